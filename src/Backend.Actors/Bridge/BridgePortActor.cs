using Akka.Actor;
using Backend.Xen.Buffers;

namespace Backend.Actors.Bridge;

/// <summary>
/// A vif's port on its learning bridge: takes the frames its TX ring produced (one batch per drain),
/// learns their source MACs and hands them to the destination ports' RX ring actors, one batch per
/// destination. Broadcast and unknown unicast are flooded, each extra copy into a pooled buffer.
/// </summary>
public sealed class BridgePortActor : ReceiveActor
{
    private readonly LearningBridge _bridge;
    private readonly BridgePort _port;
    private readonly PacketBufferPool _buffers;
    private readonly Dictionary<int, (BridgePort Port, FrameBatch Batch)> _outgoing = [];
    private readonly List<BridgePort> _floodTargets = [];

    public BridgePortActor(LearningBridge bridge, BridgePort port, PacketBufferPool buffers)
    {
        _bridge = bridge;
        _port = port;
        _buffers = buffers;
        Receive<FrameBatch>(OnFrames);
    }

    public static Props Props(LearningBridge bridge, BridgePort port, PacketBufferPool buffers) =>
        Akka.Actor.Props.Create(() => new BridgePortActor(bridge, port, buffers));

    private void OnFrames(FrameBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
            Forward(batch.Frames[i]);
        batch.Release();
        foreach (var (_, (port, outgoing)) in _outgoing)
            port.Receiver.Tell(outgoing);
        _outgoing.Clear();
    }

    private void Forward(PacketBuffer frame)
    {
        if (frame.Length < 14)
        {
            frame.Return();
            return;
        }
        var header = frame.Frame;
        var destination = MacAddress.Read(header);
        _bridge.Learn(MacAddress.Read(header[6..]), _port);

        var target = _bridge.Lookup(destination);
        if (target is not null)
        {
            if (target == _port)
                frame.Return(); // never back out of the port it came in on
            else
                Enqueue(target, frame, ref target.FramesForwarded);
            return;
        }

        _floodTargets.Clear();
        foreach (var p in _bridge.Ports)
            if (p != _port && p.Connected)
                _floodTargets.Add(p);
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
                copy = _buffers.Rent(frame.Length);
                copy.CopyFrom(frame);
            }
            Enqueue(p, copy, ref p.FramesFlooded);
        }
        if (_floodTargets.Count == 0)
            frame.Return();
    }

    private void Enqueue(BridgePort target, PacketBuffer frame, ref long counter)
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
        Interlocked.Increment(ref counter);
        if (!_outgoing.TryGetValue(target.Id, out var entry) || entry.Batch.IsFull)
        {
            if (entry.Batch is { IsFull: true })
                target.Receiver.Tell(entry.Batch);
            entry = (target, FrameBatch.Rent());
            _outgoing[target.Id] = entry;
        }
        entry.Batch.Add(frame);
    }
}
