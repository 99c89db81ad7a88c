using System.Runtime.InteropServices;
using Akka.Actor;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;

namespace Backend.Actors.Bridge;

/// <summary>
/// A port's forwarding on its learning bridge, as a plain object its owner calls: takes the frames of one
/// drain, learns their source MACs and hands them to the destination ports' receivers (RX ring actors, an
/// uplink), one batch per destination. Broadcast and unknown unicast are flooded, each extra copy into a
/// pooled buffer. A frame from a port locked to one source MAC (<see cref="BridgePort.LockedSource"/>)
/// with another source is dropped and counted before anything is learned from it. Not thread-safe: one
/// actor owns each forwarder and alone calls it. A vif's is its TX ring actor's, called after each pass
/// (<see cref="Rings.TxOutlet"/>); an uplink's is its <see cref="BridgePortActor"/>'s, which takes the
/// TAP reader's batches. The bridge's tables and the ports' counters are shared and concurrent, so
/// ports forward in parallel on their own threads.
/// </summary>
public sealed class BridgeForwarder(LearningBridge bridge, BridgePort port, PacketBufferPool buffers)
{
    // Per destination port for the drain: its batch, and its counters, added to the port's once per
    // batch (an atomic add per frame on a line other threads read cost more than the lookup).
    private struct Outgoing
    {
        public BridgePort Port;
        public FrameBatch? Batch;
        public int Forwarded;
        public int Flooded;
    }

    private readonly Dictionary<int, Outgoing> _outgoing = [];
    private readonly List<BridgePort> _floodTargets = [];

    /// <summary>Forwards every frame of <paramref name="batch"/> and releases it; one message per destination.</summary>
    public void Forward(FrameBatch batch)
    {
        Forward(batch.Frames.AsSpan(0, batch.Count));
        batch.Release();
    }

    /// <summary>Forwards every one of <paramref name="frames"/> (now the forwarder's); one message per destination.</summary>
    public void Forward(ReadOnlySpan<PacketBuffer> frames)
    {
        var now = bridge.Timestamp();
        bridge.SweepIfDue(now);
        foreach (var frame in frames)
            Forward(frame, now);
        foreach (var (_, outgoing) in _outgoing)
            Send(outgoing);
        _outgoing.Clear();
    }

    private void Forward(PacketBuffer frame, long now)
    {
        if (frame.Length < 14)
        {
            frame.Return();
            return;
        }
        var header = frame.Frame;
        var source = MacAddress.Read(header[6..]);
        if (port.LockedSource is { } locked && source != locked)
        {
            // Another guest's MAC would move its entry here and take its unicast traffic (BridgeSourceMac).
            Interlocked.Increment(ref port.FramesDroppedSpoofed);
            frame.Return();
            return;
        }
        var destination = MacAddress.Read(header);
        bridge.Learn(source, port, now);

        var target = bridge.Lookup(destination, now);
        if (target is not null)
        {
            if (target == port)
                frame.Return(); // never back out of the port it came in on
            else
                Enqueue(target, frame, flooded: false);
            return;
        }

        _floodTargets.Clear();
        var ports = bridge.Ports;
        for (var i = 0; i < ports.Count; i++)
        {
            // Checked before a copy is made for the port, not after (Enqueue checks again, for a port that
            // changed meanwhile): a broadcast to a bridge of small-MTU vifs would otherwise be copied once
            // per port only to be dropped.
            var p = ports[i];
            if (p == port || !p.Connected)
                continue;
            if (frame.GsoType == 0 && frame.Length > p.Mtu + 14)
                Interlocked.Increment(ref p.FramesDroppedMtu);
            else
                _floodTargets.Add(p);
        }
        for (var i = 0; i < _floodTargets.Count; i++)
        {
            var p = _floodTargets[i];
            PacketBuffer copy;
            if (i == _floodTargets.Count - 1)
            {
                copy = frame;
            }
            else
            {
                copy = buffers.Rent(frame.Length);
                copy.CopyFrom(frame);
            }
            Enqueue(p, copy, flooded: true);
        }
        if (_floodTargets.Count == 0)
            frame.Return();
    }

    private void Enqueue(BridgePort target, PacketBuffer frame, bool flooded)
    {
        // SIMXEN "Frames": frames to a vif that is not Connected, or longer than its MTU + 14 (non-GSO),
        // are dropped and counted.
        if (!target.Connected)
        {
            Interlocked.Increment(ref target.FramesDroppedDown);
            frame.Return();
            return;
        }
        if (frame.GsoType == 0 && frame.Length > target.Mtu + 14)
        {
            Interlocked.Increment(ref target.FramesDroppedMtu);
            frame.Return();
            return;
        }
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_outgoing, target.Id, out _);
        if (entry.Batch is null || entry.Batch.IsFull)
        {
            // The destination's first frame of the drain, or its batch is full: send that one, start anew.
            if (entry.Batch is not null)
                Send(entry);
            entry = new Outgoing { Port = target, Batch = FrameBatch.Rent(target.Backlog) };
        }
        // Too many frames on their way to it already (its lane is behind): drop rather than queue without end.
        if (!entry.Batch.HasRoom)
        {
            Interlocked.Increment(ref target.FramesDroppedBacklog);
            frame.Return();
            return;
        }
        entry.Batch.Add(frame);
        if (flooded)
            entry.Flooded++;
        else
            entry.Forwarded++;
    }

    private static void Send(in Outgoing outgoing)
    {
        var port = outgoing.Port;
        if (outgoing.Forwarded != 0)
            Interlocked.Add(ref port.FramesForwarded, outgoing.Forwarded);
        if (outgoing.Flooded != 0)
            Interlocked.Add(ref port.FramesFlooded, outgoing.Flooded);
        var batch = outgoing.Batch!;
        if (batch.Count == 0)
        {
            batch.Release(); // every frame for it was dropped
            return;
        }
        batch.Charge();
        port.Receiver.Tell(batch);
    }
}
