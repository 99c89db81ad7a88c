using Akka.Actor;
using Backend.Actors.Bridge;

namespace Backend.Actors.Rings;

/// <summary>
/// Where a vif's <see cref="TxRingActor"/> puts the frames of a pass. On the in-process switch it
/// forwards them itself on the vif's bridge port (<see cref="ToBridge"/>): the port's forwarding is a
/// plain object (<see cref="BridgeForwarder"/>), and the TX actor is the only one to use a vif port's,
/// so a pass's frames go from the TX ring to the destinations' RX actors without a message in between.
/// Under <c>--switch tap</c> they go in a <see cref="FrameBatch"/> to the vif's TAP port actor
/// (<see cref="ToActor"/>), which writes them to the TAP.
/// </summary>
public sealed record TxOutlet
{
    private TxOutlet(LearningBridge? bridge, BridgePort? port, IActorRef? actor)
    {
        Bridge = bridge;
        Port = port;
        Actor = actor;
    }

    /// <summary>The bridge of <see cref="Port"/>, or null.</summary>
    public LearningBridge? Bridge { get; }

    /// <summary>The vif's bridge port, which the TX actor forwards on itself; or null.</summary>
    public BridgePort? Port { get; }

    /// <summary>The actor that takes the frames in batches; or null.</summary>
    public IActorRef? Actor { get; }

    public static TxOutlet ToBridge(LearningBridge bridge, BridgePort port) => new(bridge, port, null);

    public static TxOutlet ToActor(IActorRef actor) => new(null, null, actor);
}
