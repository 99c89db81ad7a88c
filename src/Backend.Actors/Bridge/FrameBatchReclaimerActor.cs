using Akka.Actor;
using Akka.Event;

namespace Backend.Actors.Bridge;

/// <summary>The subscriber of <see cref="FrameBatchReclaimer"/>: discards each frame batch that reached dead letters or was not handled.</summary>
internal sealed class FrameBatchReclaimerActor : ReceiveActor
{
    public FrameBatchReclaimerActor()
    {
        Receive<AllDeadLetters>(d =>
        {
            if (d.Message is FrameBatch batch)
                batch.Discard();
        });
    }
}
