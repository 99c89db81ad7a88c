namespace Backend.Actors.Status;

/// <summary>
/// One queue's counters and ring indices of a multi-queue vif, beside the vif's totals in
/// <see cref="VifStatus"/> (which its ring actors keep adding to, so a one-queue vif's figures and names
/// stay as they were). Written by the queue's ring actors after each drain, read by <c>/status</c> and
/// <c>/metrics</c>.
/// </summary>
public sealed class VifQueueStatus(int index)
{
    public int Index { get; } = index;

    public long TxPackets;
    public long TxBytes;
    public long RxPackets;
    public long RxBytes;
    public long RxDropped;
    public volatile bool RxStalled;

    public uint TxReqCons;
    public uint TxRspProd;
    public uint RxReqCons;
    public uint RxRspProd;
}
