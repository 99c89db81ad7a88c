namespace Backend.Host.Admin;

/// <summary>A vif's counters in <c>GET /status</c>; TX is guest to host, RX host to guest, as in netif.h.</summary>
public sealed record VifCountersDocument(
    long TxPackets, long TxBytes, long TxErrors, long RxPackets, long RxBytes, long RxDropped, long Notifications);
