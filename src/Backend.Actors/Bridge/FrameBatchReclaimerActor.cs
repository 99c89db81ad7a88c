using Akka.Actor;
using Akka.Event;

namespace Backend.Actors.Bridge;

/// <summary>The subscriber of <see cref="FrameBatchReclaimer"/>: discards (and counts) each frame batch that reached dead letters or was not handled.</summary>
internal sealed class FrameBatchReclaimerActor : ReceiveActor
{
    public FrameBatchReclaimerActor(FrameBatchReclaimer reclaimer)
    {
        Receive<AllDeadLetters>(d =>
        {
            if (d.Message is FrameBatch batch)
                reclaimer.Discard(batch);
        });
    }
}
