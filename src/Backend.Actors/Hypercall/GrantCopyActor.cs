using Akka.Actor;
using Akka.Event;
using Backend.Actors.Status;
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
    private readonly ILoggingAdapter _log = Context.GetLogger();
    // A copy that fails as a whole (EFAULT, EINVAL, ENOMEM from the kernel) is our trouble or the
    // kernel's, not one guest's, but it can repeat at every pass: as Linux's net_ratelimit, a budget.
    private readonly GuestLogLimit _failureLog = new(TimeProvider.System);

    public GrantCopyActor(IGrantCopier copier)
    {
        _copier = copier;
        Receive<GrantCopyBatch>(batch =>
        {
            // Copies whose ring actor has stopped are not run: their buffers are back in the pool.
            var copied = batch.Ops.CopyWith(_copier, out var errno);
            if (errno != 0)
                LogFailedCopy(batch, errno);
            if (copied)
                batch.Owner.Tell(batch);
        });
        Receive<LaneProbe>(probe => Sender.Tell(probe));
    }

    protected override void PostStop() => (_copier as IDisposable)?.Dispose();

    public static Props Props(IGrantCopier copier) =>
        Akka.Actor.Props.Create(() => new GrantCopyActor(copier));

    /// <summary>
    /// Every segment of the batch reads GNTST_general_error, so its ring answers each packet in it as a
    /// failed copy; only the errno says why, and only here.
    /// </summary>
    private void LogFailedCopy(GrantCopyBatch batch, int errno)
    {
        if (_failureLog.TryTake(out var suppressed))
        {
            _log.Warning("grant copy of {Segments} segments for {Ring} failed as a whole: errno {Errno} ({Suppressed} such lines suppressed before)",
                batch.Ops.Count, batch.Owner.Path.ToStringWithoutAddress(), errno, suppressed);
        }
    }
}
