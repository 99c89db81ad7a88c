using Backend.Actors.Rings;
using Backend.Xen.Buffers;

namespace Backend.Actors.Xenbus;

/// <summary>
/// The flush of an orderly stop (SIMXEN: "an orderly stop flushes and loses none"), the one predicate of
/// the daemon's stop and the tests' in-process daemon's (both through <see cref="BackendActors"/>): the
/// TX intake is closed (no TX ring is read after the passes under way), then the stop waits until no
/// pass is inside it and no packet buffer is out of the pool. Every frame taken from a TX ring holds a
/// buffer until its RX response is pushed, wherever it is: a TX copy, a frame batch in an RX actor's
/// mailbox, an RX queue, an RX copy; a pass holds the intake from before it reads its ring until its
/// frames are in buffers. So "no pass, no buffer" is "every frame taken was delivered (or dropped and
/// counted)".
/// </summary>
/// <remarks>
/// Before, the stop told the TX actors to quiesce by message and waited for the buffers alone: a TX actor
/// the message had not yet reached could still answer a request after the buffers read 0, and that frame
/// was lost with the actors (DaemonRestartTests, 1 of 1500 frames in 2 of 14 suite runs). And before
/// that it waited for the RX queues alone, which missed the frames on their way to them.
/// </remarks>
public static class OrderlyStop
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Closes <paramref name="intake"/>, then waits until no pass is inside it and <paramref name="buffers"/>
    /// has none out, on two polls in a row (the pool's count is exact at rest only: read while buffers
    /// move it may be off by those), or until <paramref name="timeout"/>: a guest that posts no RX buffers
    /// keeps its queued frames, and is not waited for longer than that; nor is a host that keeps sending
    /// into an uplink's or a vif's TAP.
    /// </summary>
    /// <returns>True when the data path was flushed, false at the timeout.</returns>
    public static async Task<bool> QuiesceAndFlushAsync(TxIntake intake, PacketBufferPool buffers, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        intake.Close();
        var deadline = DateTime.UtcNow + timeout;
        var idlePolls = 0;
        while (true)
        {
            // The passes first: once none is inside, every frame they took holds a buffer the pool counts.
            idlePolls = intake.Passes == 0 && buffers.Outstanding == 0 ? idlePolls + 1 : 0;
            if (idlePolls == 2)
                return true;
            if (DateTime.UtcNow >= deadline)
                return false;
            await Task.Delay(Poll, cancellationToken);
        }
    }
}
