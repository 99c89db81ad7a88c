using Backend.Xen.EventChannels;

namespace Backend.Actors.Vif;

/// <summary>
/// The local event-channel ports of one queue of a connected vif (one shared port, or split tx/rx). Set by
/// <see cref="VifQueue"/> after binding and before the rings are first kicked. Each ring's
/// <see cref="RingEventLatch"/> lives here, with the queue, so that it outlives a restart of its ring
/// actor; so do the queue's number (its lane, decision 81) and its status figures, which its ring actors read.
/// </summary>
/// <param name="queue">The queue's number, 0 for a one-queue vif.</param>
/// <param name="status">The queue's own figures when the vif has several queues, else null.</param>
public sealed class VifChannels(IEventChannels eventChannels, int queue = 0, Status.VifQueueStatus? status = null)
{
    public int Queue { get; } = queue;

    public Status.VifQueueStatus? QueueStatus { get; } = status;

    public RingEventLatch TxEvents { get; } = new();

    public RingEventLatch RxEvents { get; } = new();

    public uint TxPort { get; set; }

    public uint RxPort { get; set; }

    public bool Split => TxPort != RxPort;

    public void NotifyTx() => eventChannels.Notify(TxPort);

    public void NotifyRx() => eventChannels.Notify(RxPort);
}
