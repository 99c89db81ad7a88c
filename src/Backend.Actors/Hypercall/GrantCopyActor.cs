using Akka.Actor;
using Backend.Xen.Grants;

namespace Backend.Actors.Hypercall;

/// <summary>
/// Executes grant-copy batches on its own thread (a PinnedDispatcher, configured in hosting), because a
/// copy is a blocking ioctl on real Xen and a long memcpy under SIMXEN: neither may hold up a
/// dispatcher thread that other guests' actors need. One per core; each guest's rings use one.
/// </summary>
public sealed class GrantCopyActor : ReceiveActor
{
    public const string DispatcherId = "xnb-hypercall-dispatcher";

    private readonly IGrantCopier _copier;

    public GrantCopyActor(IGrantCopier copier)
    {
        _copier = copier;
        Receive<GrantCopyBatch>(batch =>
        {
            if (batch.Count > 0)
                _copier.Copy(batch.Used);
            batch.Owner.Tell(batch);
        });
    }

    protected override void PostStop() => (_copier as IDisposable)?.Dispose();

    public static Props Props(IGrantCopier copier) =>
        Akka.Actor.Props.Create(() => new GrantCopyActor(copier)).WithDispatcher(DispatcherId);
}
