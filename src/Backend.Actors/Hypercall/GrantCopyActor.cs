using Akka.Actor;
using Backend.Xen.Grants;

namespace Backend.Actors.Hypercall;

/// <summary>
/// Executes grant-copy batches on its lane's dedicated thread (<see cref="GrantCopyActors"/>), because a
/// copy is a blocking ioctl on real Xen and a long memcpy under SIMXEN: neither may hold up the shared
/// thread pool that the control path (xenstore, the connection actors, the admin endpoint) needs. The
/// rings affine to the lane run on the same thread, so a batch is copied without a thread hand-off.
/// </summary>
public sealed class GrantCopyActor : ReceiveActor
{
    private readonly IGrantCopier _copier;

    public GrantCopyActor(IGrantCopier copier)
    {
        _copier = copier;
        Receive<GrantCopyBatch>(batch =>
        {
            // A batch whose ring actor has stopped is not copied: its buffers are back in the pool.
            if (!batch.TryBeginCopy())
                return;
            bool copied;
            try
            {
                if (batch.Count > 0)
                    _copier.Copy(batch.Used);
            }
            finally
            {
                copied = batch.EndCopy();
            }
            if (copied)
                batch.Owner.Tell(batch);
        });
        Receive<LaneProbe>(probe => Sender.Tell(probe));
    }

    protected override void PostStop() => (_copier as IDisposable)?.Dispose();

    public static Props Props(IGrantCopier copier) =>
        Akka.Actor.Props.Create(() => new GrantCopyActor(copier));
}
