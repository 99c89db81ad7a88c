using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Netback;
using Backend.Xen.Platform.Linux;

namespace Backend.Actors.HostNetwork;

/// <summary>
/// Takes the frames a TAP hands the <see cref="TapPoller"/>: copies each into a pooled buffer with its
/// offload state, and sends what one poll turn read to <see cref="Target"/> as one <see cref="FrameBatch"/>
/// (a bridge port's forwarding actor, or a vif's RX ring actor); to a multi-queue vif, one batch per queue
/// its frames were steered to. Runs on the poller's thread only.
/// </summary>
public sealed class TapFrameReader : ITapFrameHandler
{
    private readonly PacketBufferPool _buffers;
    private readonly TapPortCounters _counters;
    private readonly IActorRef[] _targets;
    private readonly IRxQueueSelector _steering;
    // The poll turn's batch per target.
    private readonly FrameBatch?[] _batches;

    public TapFrameReader(PacketBufferPool buffers, IActorRef target, TapPortCounters counters)
        : this(buffers, [target], FlowHashQueueSelector.Instance, counters)
    {
    }

    /// <param name="targets">A multi-queue vif's RX ring actors, one per queue.</param>
    /// <param name="steering">Picks a frame's queue (the one seam of RX steering).</param>
    public TapFrameReader(PacketBufferPool buffers, IActorRef[] targets, IRxQueueSelector steering, TapPortCounters counters)
    {
        if (targets.Length == 0)
            throw new ArgumentException("a reader sends to at least one target", nameof(targets));
        _buffers = buffers;
        _counters = counters;
        _targets = targets;
        _steering = steering;
        _batches = new FrameBatch?[targets.Length];
    }

    /// <summary>Where the frames go (queue 0's RX actor of a multi-queue vif).</summary>
    public IActorRef Target => _targets[0];

    /// <summary>
    /// Frames are taken only while the carrier is on (the vif is Connected, as SIMXEN's "Frames" ask, and
    /// neither disabled nor stalled); otherwise they are dropped and counted, so a stale backlog never
    /// reaches a frontend. (The TAP's own carrier goes off with it, so the kernel sends next to nothing.)
    /// </summary>
    public volatile bool Carrier;

    /// <summary>The largest non-GSO frame taken is <see cref="Mtu"/> + 14; 0 takes any size (a bridge checks per port).</summary>
    public volatile int Mtu;

    /// <summary>
    /// A vif's multicast filter: a multicast frame from the host that it refuses is dropped before it is
    /// copied, as Linux's <c>xenvif_start_xmit</c> does, and counted there; null takes every frame (an uplink).
    /// </summary>
    public volatile MulticastFilter? Multicast;

    /// <summary>Bounds the frames on their way to <see cref="Target"/>; beyond it they are dropped and counted.</summary>
    public FrameBacklog? Backlog { get; init; }

    public void OnFrame(TapDevice tap, in VirtioNetHeader header, ReadOnlySpan<byte> frame)
    {
        Interlocked.Increment(ref _counters.FromHost);
        var mtu = Mtu;
        if (!Carrier || frame.Length < 14 || frame.Length > PacketBufferPool.LargeSize
            || (mtu > 0 && header.GsoType == VirtioNetHeader.GsoNone && frame.Length > mtu + 14))
        {
            Interlocked.Increment(ref _counters.FromHostDropped);
            return;
        }
        if ((frame[0] & 1) != 0 && Multicast is { } multicast && !multicast.Accepts(MacAddress.Read(frame)))
        {
            multicast.CountFiltered();
            return;
        }
        var queue = _targets.Length > 1 ? _steering.Select(frame, _targets.Length) : 0;
        var batch = _batches[queue] ??= FrameBatch.Rent(Backlog);
        // The target is behind (its lane busy): drop before copying rather than queue without end.
        if (!batch.HasRoom)
        {
            Interlocked.Increment(ref _counters.FromHostDropped);
            return;
        }
        var buffer = _buffers.Rent(frame.Length);
        frame.CopyTo(buffer.Span);
        buffer.Length = frame.Length;
        if (!TapOffload.FromTap(in header, buffer))
        {
            buffer.Return();
            Interlocked.Increment(ref _counters.FromHostDropped);
            return;
        }
        batch.Add(buffer);
        if (batch.IsFull)
            Flush(queue);
    }

    public void OnReadsDone(TapDevice tap)
    {
        for (var q = 0; q < _batches.Length; q++)
            Flush(q);
    }

    private void Flush(int queue)
    {
        if (_batches[queue] is not { Count: > 0 } batch)
            return;
        _batches[queue] = null;
        batch.Charge();
        _targets[queue].Tell(batch);
    }
}
