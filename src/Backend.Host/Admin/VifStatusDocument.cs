using Backend.Actors.Status;

namespace Backend.Host.Admin;

/// <summary>One vif in <c>GET /status</c>; <see cref="Queues"/> only for a vif connected with more than one queue.</summary>
public sealed record VifStatusDocument(
    string Name,
    ushort DomId,
    uint Handle,
    string State,
    string FrontendState,
    string Mac,
    string Bridge,
    int Mtu,
    string Features,
    bool Disabled,
    bool Carrier,
    bool RxStalled,
    string? Fault,
    long Faults,
    long Restarts,
    long LastRestartMicroseconds,
    VifCountersDocument Counters,
    VifRingsDocument Rings,
    VifMulticastDocument Multicast,
    TapCountersDocument? Tap,
    BridgePortDocument? Port,
    CtrlRingDocument? CtrlRing,
    IReadOnlyList<VifQueueDocument>? Queues = null)
{
    public static VifStatusDocument From(VifStatus v) => new(
        v.Id.ToString(), v.Id.DomId, v.Id.Handle, v.State, v.FrontendState, v.Mac, v.Bridge, v.Mtu, v.Features,
        v.Disabled, v.Carrier, v.RxStalled, v.Fault, Interlocked.Read(ref v.Faults), Interlocked.Read(ref v.Restarts), Volatile.Read(ref v.LastRestartMicroseconds),
        new VifCountersDocument(
            Interlocked.Read(ref v.TxPackets), Interlocked.Read(ref v.TxBytes), Interlocked.Read(ref v.TxErrors),
            Interlocked.Read(ref v.RxPackets), Interlocked.Read(ref v.RxBytes), Interlocked.Read(ref v.RxDropped),
            Interlocked.Read(ref v.Notifications), Interlocked.Read(ref v.Events), Interlocked.Read(ref v.SpuriousEvents),
            Interlocked.Read(ref v.RxGsoChecksumFixup), Interlocked.Read(ref v.TxFragOverflow),
            Interlocked.Read(ref v.RxStalls), Interlocked.Read(ref v.RxExpired), Interlocked.Read(ref v.Multicast.Filtered)),
        new VifRingsDocument(Volatile.Read(ref v.TxReqCons), Volatile.Read(ref v.TxRspProd), Volatile.Read(ref v.RxReqCons), Volatile.Read(ref v.RxRspProd)),
        VifMulticastDocument.From(v.Multicast),
        v.TapCounters is { } tap ? TapCountersDocument.From(v.TapDevice ?? "", tap) : null,
        v.BridgePort is { } port ? BridgePortDocument.From(port) : null,
        CtrlRingDocument.From(v),
        v.Queues is { Length: > 0 } queues ? [.. queues.Select(VifQueueDocument.From)] : null);
}
