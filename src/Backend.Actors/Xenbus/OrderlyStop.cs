using Akka.Actor;
using Backend.Xen.Buffers;

namespace Backend.Actors.Xenbus;

/// <summary>
/// The flush of an orderly stop (SIMXEN: "an orderly stop flushes and loses none"), shared by the daemon
/// and the tests' in-process daemon: no new TX request is taken, then the stop waits until no packet buffer
/// is out of the pool. Every frame in flight holds one, wherever it is: a TX copy batch, a frame batch in a
/// bridge port's or an RX actor's mailbox, an RX queue, an RX copy. Waiting for the RX queues alone (as
/// before) missed the frames still on their way to them, already answered on their sender's ring.
/// </summary>
public static class OrderlyStop
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Tells <paramref name="supervisor"/> to quiesce every vif, then waits until <paramref name="buffers"/>
    /// has none out on two polls in a row (the second catches a drain that began just before its TX ring
    /// took the quiesce), or until <paramref name="timeout"/>: a guest that posts no RX buffers keeps its
    /// queued frames, and is not waited for longer than that.
    /// </summary>
    /// <returns>True when the data path was flushed, false at the timeout.</returns>
    public static async Task<bool> QuiesceAndFlushAsync(IActorRef supervisor, PacketBufferPool buffers, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        supervisor.Tell(XenbusProtocol.Quiesce.Instance);
        var deadline = DateTime.UtcNow + timeout;
        var idlePolls = 0;
        while (DateTime.UtcNow < deadline)
        {
            idlePolls = buffers.Outstanding == 0 ? idlePolls + 1 : 0;
            if (idlePolls == 2)
                return true;
            await Task.Delay(Poll, cancellationToken);
        }
        return false;
    }
}
