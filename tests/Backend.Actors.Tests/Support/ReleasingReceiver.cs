using Akka.Actor;
using Backend.Actors.Bridge;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// A receiver of frame batches that takes them on the sender's thread, as an RX ring actor would take
/// them on its own: counts the frames, returns their buffers and the batch. No mailbox, so a test can
/// measure what the sender alone allocates.
/// </summary>
internal sealed class ReleasingReceiver(IActorRefProvider provider, string name) : MinimalActorRef
{
    public long Frames { get; private set; }

    public override ActorPath Path { get; } = provider.RootPath / name;

    public override IActorRefProvider Provider { get; } = provider;

    protected override void TellInternal(object message, IActorRef sender)
    {
        var batch = (FrameBatch)message;
        Frames += batch.Count;
        batch.Discard();
    }
}
