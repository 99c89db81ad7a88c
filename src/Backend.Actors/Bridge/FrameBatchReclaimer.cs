using Akka.Actor;
using Akka.Event;
using Backend.Actors.Status;

namespace Backend.Actors.Bridge;

/// <summary>
/// Returns the buffers of <see cref="FrameBatch"/>es that no actor took. When an actor stops, Akka sends
/// what is left in its mailbox to dead letters, and so is every message sent to it afterwards (a bridge
/// port whose vif has just gone, a TAP reader's last batch): each of those batches holds native buffers
/// that nothing else would return. One per actor system (an Akka extension), so that no batch is
/// returned twice; it runs as a system actor, which outlives the user actors at shutdown.
/// </summary>
/// <remarks>
/// Every frame it discards is a frame the daemon dropped, so it is counted (<see cref="FramesDiscarded"/>,
/// <c>framesDeadLettered</c> in <c>/status</c>, <c>xnb_frames_dead_lettered_total</c>): the soak's "every
/// drop is accounted for" would otherwise have a hole where a vif's tree stops with frames on their way
/// to it. Not per vif: a dead letter names only the stopped actor, and its vif's counters may be gone.
/// </remarks>
public sealed class FrameBatchReclaimer : IExtension
{
    private long _framesDiscarded;
    private VifStatusRegistry? _status;

    internal FrameBatchReclaimer(ExtendedActorSystem system)
    {
        var actor = system.SystemActorOf(Props.Create(() => new FrameBatchReclaimerActor(this)), "frame-batch-reclaimer");
        // Dead letters, and (an AllDeadLetters too) a message an actor did not handle: a bug, but its
        // buffers are still ours.
        system.EventStream.Subscribe(actor, typeof(AllDeadLetters));
    }

    /// <summary>Frames in batches that reached dead letters or were not handled, dropped since the actor system started.</summary>
    public long FramesDiscarded => Interlocked.Read(ref _framesDiscarded);

    /// <summary>Starts the reclaimer of <paramref name="system"/> if it has none yet; every actor that sends or receives frame batches may call it.</summary>
    public static FrameBatchReclaimer For(ActorSystem system) => system.WithExtension<FrameBatchReclaimer, FrameBatchReclaimerProvider>();

    /// <summary>Counts every discarded frame in <paramref name="status"/> too (the daemon's registry, which /status and /metrics read).</summary>
    public void CountInto(VifStatusRegistry status) => Volatile.Write(ref _status, status);

    internal void Discard(FrameBatch batch)
    {
        Interlocked.Add(ref _framesDiscarded, batch.Count);
        if (Volatile.Read(ref _status) is { } status)
            Interlocked.Add(ref status.FramesDeadLettered, batch.Count);
        batch.Discard();
    }
}
