using Akka.Actor;
using Backend.Xen.Buffers;

namespace Backend.Actors.Bridge;

/// <summary>
/// A port on a learning bridge as an actor, for a frame source that is not a vif's TX ring (a vif's TX
/// ring actor forwards inline with its own <see cref="BridgeForwarder"/>): takes frame batches and
/// forwards them as <see cref="BridgeForwarder"/> does.
/// </summary>
public sealed class BridgePortActor : ReceiveActor
{
    public BridgePortActor(LearningBridge bridge, BridgePort port, PacketBufferPool buffers)
    {
        var forwarder = new BridgeForwarder(bridge, port, buffers);
        Receive<FrameBatch>(forwarder.Forward);
    }

    // Batches left for this actor when it stops go to dead letters: someone must return their buffers.
    protected override void PreStart() => FrameBatchReclaimer.For(Context.System);

    public static Props Props(LearningBridge bridge, BridgePort port, PacketBufferPool buffers) =>
        Akka.Actor.Props.Create(() => new BridgePortActor(bridge, port, buffers));
}
