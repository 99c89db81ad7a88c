using Backend.Actors.Status;

namespace Backend.Host.Admin;

/// <summary>One queue of a multi-queue vif in <c>GET /status</c> (a vif's totals stay in its counters).</summary>
public sealed record VifQueueDocument(
    int Queue,
    long TxPackets,
    long TxBytes,
    long RxPackets,
    long RxBytes,
    long RxDropped,
    bool RxStalled,
    VifRingsDocument Rings)
{
    public static VifQueueDocument From(VifQueueStatus q) => new(
        q.Index, Interlocked.Read(ref q.TxPackets), Interlocked.Read(ref q.TxBytes), Interlocked.Read(ref q.RxPackets),
        Interlocked.Read(ref q.RxBytes), Interlocked.Read(ref q.RxDropped), q.RxStalled,
        new VifRingsDocument(Volatile.Read(ref q.TxReqCons), Volatile.Read(ref q.TxRspProd), Volatile.Read(ref q.RxReqCons), Volatile.Read(ref q.RxRspProd)));
}
