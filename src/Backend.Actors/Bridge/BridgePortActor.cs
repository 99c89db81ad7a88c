using Akka.Actor;
using Backend.Xen.Buffers;

namespace Backend.Actors.Bridge;

/// <summary>
/// A port on a learning bridge as an actor: takes the frame batches of its source (a vif's TX ring actor,
/// one batch per pass; an uplink's TAP reader) and forwards them with its <see cref="BridgeForwarder"/>.
/// A vif's runs on the vif's lane, so its TX ring actor's batch reaches it without a thread hand-off.
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
