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
/// (a bridge port's forwarding actor, or a vif's RX ring actor). Runs on the poller's thread only.
/// </summary>
public sealed class TapFrameReader(PacketBufferPool buffers, IActorRef target, TapPortCounters counters) : ITapFrameHandler
{
    private FrameBatch? _batch;

    public IActorRef Target { get; } = target;

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
        Interlocked.Increment(ref counters.FromHost);
        var mtu = Mtu;
        if (!Carrier || frame.Length < 14 || frame.Length > PacketBufferPool.LargeSize
            || (mtu > 0 && header.GsoType == VirtioNetHeader.GsoNone && frame.Length > mtu + 14))
        {
            Interlocked.Increment(ref counters.FromHostDropped);
            return;
        }
        if ((frame[0] & 1) != 0 && Multicast is { } multicast && !multicast.Accepts(MacAddress.Read(frame)))
        {
            multicast.CountFiltered();
            return;
        }
        _batch ??= FrameBatch.Rent(Backlog);
        // The target is behind (its lane busy): drop before copying rather than queue without end.
        if (!_batch.HasRoom)
        {
            Interlocked.Increment(ref counters.FromHostDropped);
            return;
        }
        var buffer = buffers.Rent(frame.Length);
        frame.CopyTo(buffer.Span);
        buffer.Length = frame.Length;
        if (!TapOffload.FromTap(in header, buffer))
        {
            buffer.Return();
            Interlocked.Increment(ref counters.FromHostDropped);
            return;
        }
        _batch.Add(buffer);
        if (_batch.IsFull)
            Flush();
    }

    public void OnReadsDone(TapDevice tap) => Flush();

    private void Flush()
    {
        if (_batch is not { Count: > 0 } batch)
            return;
        _batch = null;
        batch.Charge();
        Target.Tell(batch);
    }
}
