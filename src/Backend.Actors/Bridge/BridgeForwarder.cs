using Akka.Actor;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;

namespace Backend.Actors.Bridge;

/// <summary>
/// A port's forwarding on its learning bridge, as a plain object its owner calls: takes the frames of one
/// drain, learns their source MACs and hands them to the destination ports' receivers (RX ring actors, an
/// uplink), one batch per destination. Broadcast and unknown unicast are flooded, each extra copy into a
/// pooled buffer; a multicast frame only to the ports whose <see cref="BridgePort.Multicast"/> filter
/// accepts it. A frame from a port locked to one source MAC (<see cref="BridgePort.LockedSource"/>)
/// with another source is dropped and counted before anything is learned from it. Not thread-safe: one
/// actor owns each forwarder and alone calls it. A vif's is its TX ring actor's, called after each pass
/// (<see cref="Rings.TxOutlet"/>); an uplink's is its <see cref="BridgePortActor"/>'s, which takes the
/// TAP reader's batches. The bridge's table and the ports' counters are shared, so ports forward in
/// parallel on their own threads.
/// <para>
/// The table is asked once per run of frames: a drain's frames mostly come from one source and go to one
/// destination, so the forwarder keeps the last source it learned and the last destination's answer for
/// as long as the bridge's <see cref="LearningBridge.Version"/> stays as it was before it asked (anything
/// that could change the answer, this drain's own learning included, bumps it) and the drain's timestamp
/// is the same (ageing). The destination's per-drain state is in an array by port index, not a
/// dictionary: a frame costs no hash look-up unless its source or destination differs from the frame
/// before it.
/// </para>
/// <para>
/// A destination with several queues (<see cref="BridgePort.QueueReceivers"/>) gets one batch per queue its
/// frames were steered to (<see cref="BridgePort.Steering"/>), kept in an array per port index that lives
/// as long as the forwarder: no allocation per frame or per drain once it has seen the port.
/// </para>
/// </summary>
public sealed class BridgeForwarder(LearningBridge bridge, BridgePort port, PacketBufferPool buffers)
{
    // Per destination port for the drain: its batch, and its counters, added to the port's once per
    // batch (an atomic add per frame on a line other threads read cost more than the lookup).
    private struct Outgoing
    {
        public BridgePort? Port;
        public FrameBatch? Batch;
        public int Forwarded;
        public int Flooded;
    }

    // By BridgePort.Index; the indexes touched in this drain, in the order of their first frame.
    private Outgoing[] _outgoing = new Outgoing[8];
    private int[] _touched = new int[8];
    // By BridgePort.Index: a multi-queue destination's batch per queue for the drain (queue 0's is Outgoing.Batch).
    private FrameBatch?[]?[] _queueBatches = new FrameBatch?[8][];
    private int _touchedCount;
    private readonly List<BridgePort> _floodTargets = [];

    // The drain's memo of the table (reset at each drain: its timestamp decides ageing).
    private bool _learned;
    private MacAddress _learnedSource;
    private int _learnedVersion;
    private bool _looked;
    private MacAddress _lookedDestination;
    private int _lookedVersion;
    private BridgePort? _lookedTarget;

    /// <summary>
    /// Times this forwarder asked the bridge's MAC table (a learn or a destination look-up): one per run of
    /// frames with the same source, one per run with the same destination, while the table stays as it is.
    /// </summary>
    public long TableLookups { get; private set; }

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
        _learned = false;
        _looked = false;
        _lookedTarget = null;
        foreach (var frame in frames)
            Forward(frame, now);
        for (var i = 0; i < _touchedCount; i++)
        {
            ref var outgoing = ref _outgoing[_touched[i]];
            Send(outgoing);
            outgoing = default;
        }
        _touchedCount = 0;
    }

    private void Forward(PacketBuffer frame, long now)
    {
        if (frame.Length < 14)
        {
            Interlocked.Increment(ref port.FramesDroppedRunt);
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

        // The version is read before the table is asked: a change after it shows as a new version at the
        // next frame, which then asks again.
        var version = bridge.Version;
        if (!_learned || source != _learnedSource || version != _learnedVersion)
        {
            bridge.Learn(source, port, now);
            TableLookups++;
            (_learned, _learnedSource, _learnedVersion) = (true, source, version);
            version = bridge.Version; // this frame's learning may have changed the answer for its destination
        }
        if (!_looked || destination != _lookedDestination || version != _lookedVersion)
        {
            _lookedTarget = bridge.Lookup(destination, now);
            TableLookups++;
            (_looked, _lookedDestination, _lookedVersion) = (true, destination, version);
        }

        var target = _lookedTarget;
        if (target is not null)
        {
            if (target == port)
            {
                // Never back out of the port it came in on.
                Interlocked.Increment(ref port.FramesDroppedHairpin);
                frame.Return();
            }
            else
                Enqueue(target, frame, flooded: false);
            return;
        }

        _floodTargets.Clear();
        var ports = bridge.PortArray;
        // Only a multicast (not broadcast) frame is for a port's multicast filter: one test per frame flooded.
        var filtered = destination.IsMulticast && destination != MacAddress.Broadcast;
        for (var i = 0; i < ports.Length; i++)
        {
            // Checked before a copy is made for the port, not after (Enqueue checks again, for a port that
            // changed meanwhile): a broadcast to a bridge of small-MTU vifs would otherwise be copied once
            // per port only to be dropped.
            var p = ports[i];
            if (p == port)
                continue;
            // Every frame a daemon drops is counted: a port that is down misses the flood as it would
            // miss a unicast frame (the orderly stop's flush cannot tell a frame dropped uncounted from
            // one delivered).
            if (!p.Connected)
                Interlocked.Increment(ref p.FramesDroppedDown);
            else if (filtered && p.Multicast is { } multicast && !multicast.Accepts(destination))
                // Linux's xenvif_start_xmit: a guest that asked for multicast control gets only its groups.
                multicast.CountFiltered();
            else if (frame.GsoType == 0 && frame.Length > p.Mtu + 14)
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
        {
            Interlocked.Increment(ref port.FramesDroppedNoPort);
            frame.Return();
        }
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
        ref var entry = ref OutgoingFor(target);
        FrameBatch batch;
        if (target.QueueReceivers is { Length: > 1 } receivers)
        {
            batch = QueueBatch(target, receivers, target.Steering.Select(frame.Frame, receivers.Length));
        }
        else
        {
            if (entry.Batch is null || entry.Batch.IsFull)
            {
                // The destination's first frame of the drain, or its batch is full: send that one, start anew.
                if (entry.Batch is not null)
                    Send(entry.Port!, entry.Batch, entry.Port!.Receiver);
                entry.Batch = FrameBatch.Rent(target.Backlog);
            }
            batch = entry.Batch;
        }
        // Too many frames on their way to it already (its lane is behind): drop rather than queue without end.
        if (!batch.HasRoom)
        {
            Interlocked.Increment(ref target.FramesDroppedBacklog);
            frame.Return();
            return;
        }
        batch.Add(frame);
        if (flooded)
            entry.Flooded++;
        else
            entry.Forwarded++;
    }

    /// <summary>The batch of the drain for queue <paramref name="queue"/> of <paramref name="target"/> (a full one is sent first).</summary>
    private FrameBatch QueueBatch(BridgePort target, IActorRef[] receivers, int queue)
    {
        var index = target.Index;
        if (index >= _queueBatches.Length)
            Array.Resize(ref _queueBatches, Math.Max(index + 1, _queueBatches.Length * 2));
        var batches = _queueBatches[index];
        if (batches is null || batches.Length < receivers.Length)
            batches = _queueBatches[index] = new FrameBatch?[receivers.Length];
        var batch = batches[queue];
        if (batch is null || batch.IsFull)
        {
            if (batch is not null)
                Send(target, batch, receivers[queue]);
            batch = batches[queue] = FrameBatch.Rent(target.Backlog);
        }
        return batch;
    }

    /// <summary>The drain's state for <paramref name="target"/>, by its index: no hash look-up.</summary>
    private ref Outgoing OutgoingFor(BridgePort target)
    {
        var index = target.Index;
        if (index >= _outgoing.Length)
            Array.Resize(ref _outgoing, Math.Max(index + 1, _outgoing.Length * 2));
        ref var entry = ref _outgoing[index];
        if (entry.Port == target)
            return ref entry;
        if (entry.Port is null)
        {
            if (_touchedCount == _touched.Length)
                Array.Resize(ref _touched, _touchedCount * 2);
            _touched[_touchedCount++] = index;
        }
        else
        {
            // The index's port left the bridge during the drain and a new port took it: the old port's
            // batch goes now (it is not Connected; its receiver returns what it cannot use).
            Send(entry);
        }
        entry = new Outgoing { Port = target };
        return ref entry;
    }

    /// <summary>The destination's counters of the drain, then its batch (or each queue's).</summary>
    private void Send(in Outgoing outgoing)
    {
        var port = outgoing.Port;
        if (port is null)
            return;
        if (outgoing.Forwarded != 0)
            Interlocked.Add(ref port.FramesForwarded, outgoing.Forwarded);
        if (outgoing.Flooded != 0)
            Interlocked.Add(ref port.FramesFlooded, outgoing.Flooded);
        if (outgoing.Batch is not null)
            Send(port, outgoing.Batch, port.Receiver);
        if (port.QueueReceivers is not { Length: > 1 } receivers || port.Index >= _queueBatches.Length || _queueBatches[port.Index] is not { } batches)
            return;
        for (var q = 0; q < batches.Length; q++)
        {
            if (batches[q] is { } batch)
            {
                batches[q] = null;
                Send(port, batch, receivers[q]);
            }
        }
    }

    private static void Send(BridgePort port, FrameBatch batch, IActorRef receiver)
    {
        if (batch.Count == 0)
        {
            batch.Release(); // every frame for it was dropped
            return;
        }
        batch.Charge();
        receiver.Tell(batch);
    }
}
