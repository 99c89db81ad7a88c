using Akka.Actor;
using Backend.Xen.Buffers;

namespace Backend.Actors.Bridge;

/// <summary>
/// A port on a learning bridge as an actor, for a source that is not an actor of its own: takes the frame
/// batches an uplink's TAP reader makes on the poll thread, one per poll turn, and forwards them with the
/// port's <see cref="BridgeForwarder"/>. A vif's port has none: its TX ring actor forwards the frames of
/// each pass itself (<see cref="Rings.TxOutlet"/>).
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
