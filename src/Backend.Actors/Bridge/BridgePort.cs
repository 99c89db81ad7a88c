using Akka.Actor;
using Backend.Xen.Abi;
using Backend.Xen.Netback;

namespace Backend.Actors.Bridge;

/// <summary>
/// One port of a <see cref="LearningBridge"/>: a vif (its RX ring actor takes the frames) or an uplink.
/// Mutable fields are written by the port's owner and read by other ports' forwarding.
/// </summary>
public sealed class BridgePort(int id, string name, IActorRef receiver, MacAddress? lockedSource = null)
{
    public int Id { get; } = id;

    public string Name { get; } = name;

    /// <summary>Takes <see cref="FrameBatch"/> messages for this port (queue 0's RX actor of a multi-queue vif).</summary>
    public IActorRef Receiver { get; } = receiver;

    /// <summary>
    /// A multi-queue vif's RX ring actors, one per queue, or null: every frame to <see cref="Receiver"/>.
    /// Set by <see cref="SetQueues"/> before the port is <see cref="Connected"/>, never changed after.
    /// </summary>
    public IActorRef[]? QueueReceivers { get; private set; }

    /// <summary>Picks a frame's queue among <see cref="QueueReceivers"/> (the one seam of RX steering).</summary>
    public IRxQueueSelector Steering { get; private set; } = FlowHashQueueSelector.Instance;

    /// <summary>Frames to this port go to the queue <paramref name="steering"/> picks among <paramref name="receivers"/>.</summary>
    public void SetQueues(IActorRef[] receivers, IRxQueueSelector steering)
    {
        if (Connected)
            throw new InvalidOperationException("the queues of a port are set before it is connected");
        QueueReceivers = receivers;
        Steering = steering;
    }

    /// <summary>
    /// The one source MAC frames from this port may carry (a vif's configured <c>mac</c> under
    /// <see cref="BridgeSourceMac.Locked"/>), or null: any.
    /// </summary>
    public MacAddress? LockedSource { get; } = lockedSource;

    /// <summary>
    /// The port's place among its bridge's ports, dense and reused after a port goes (set by
    /// <see cref="LearningBridge.AddPort"/>): a forwarder keeps its per-destination state of a drain in an
    /// array by it instead of a dictionary look-up per frame.
    /// </summary>
    internal int Index { get; set; }

    /// <summary>Set once the port left its bridge: a MAC table entry still naming it is no answer.</summary>
    internal volatile bool Removed;

    /// <summary>The largest non-GSO frame this port takes is MTU + 14.</summary>
    public volatile int Mtu = 1500;

    /// <summary>
    /// The vif's carrier: frames to a vif that is not Connected (SIMXEN "Frames"), disabled, or whose guest
    /// stalled are dropped here, before any copy (the vif's connection sets it, decision 76).
    /// </summary>
    public volatile bool Connected;

    /// <summary>
    /// The vif's multicast filter (its frontend's MCAST_ADD/DEL list while it asked for multicast control),
    /// consulted when a multicast frame is flooded; null for a port that takes every frame (an uplink).
    /// Frames it refuses are counted in its <see cref="MulticastFilter.Filtered"/>.
    /// </summary>
    public volatile MulticastFilter? Multicast;

    /// <summary>Bounds the frames on their way to the port's receiver; null for no bound.</summary>
    public volatile FrameBacklog? Backlog;

    public long FramesForwarded;
    public long FramesFlooded;
    public long FramesDroppedMtu;
    public long FramesDroppedDown;

    /// <summary>Frames from this port dropped for a source other than <see cref="LockedSource"/>.</summary>
    public long FramesDroppedSpoofed;

    /// <summary>Frames dropped because too many were already on their way to the port (its backlog was full).</summary>
    public long FramesDroppedBacklog;

    /// <summary>Frames from this port dropped for being shorter than an Ethernet header (14 bytes).</summary>
    public long FramesDroppedRunt;

    /// <summary>
    /// Frames from this port dropped because their destination was learned on this port itself (a bridge
    /// never sends a frame back out of the port it came in on).
    /// </summary>
    public long FramesDroppedHairpin;

    /// <summary>
    /// Broadcast and unknown-unicast frames from this port that no other port took: none other was on the
    /// bridge and Connected, or each one that was is counted in its own <see cref="FramesDroppedDown"/>
    /// or <see cref="FramesDroppedMtu"/>.
    /// </summary>
    public long FramesDroppedNoPort;
}
