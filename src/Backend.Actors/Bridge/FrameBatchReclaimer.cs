using Akka.Actor;
using Akka.Event;

namespace Backend.Actors.Bridge;

/// <summary>
/// Returns the buffers of <see cref="FrameBatch"/>es that no actor took. When an actor stops, Akka sends
/// what is left in its mailbox to dead letters, and so is every message sent to it afterwards (a bridge
/// port whose vif has just gone, a TAP reader's last batch): each of those batches holds native buffers
/// that nothing else would return. One per actor system (an Akka extension), so that no batch is
/// returned twice; it runs as a system actor, which outlives the user actors at shutdown.
/// </summary>
public sealed class FrameBatchReclaimer : IExtension
{
    internal FrameBatchReclaimer(ExtendedActorSystem system)
    {
        var actor = system.SystemActorOf(Props.Create<FrameBatchReclaimerActor>(), "frame-batch-reclaimer");
        // Dead letters, and (an AllDeadLetters too) a message an actor did not handle: a bug, but its
        // buffers are still ours.
        system.EventStream.Subscribe(actor, typeof(AllDeadLetters));
    }

    /// <summary>Starts the reclaimer of <paramref name="system"/> if it has none yet; every actor that sends or receives frame batches may call it.</summary>
    public static FrameBatchReclaimer For(ActorSystem system) => system.WithExtension<FrameBatchReclaimer, FrameBatchReclaimerProvider>();
}
