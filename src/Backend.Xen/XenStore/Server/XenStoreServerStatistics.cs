namespace Backend.Xen.XenStore.Server;

/// <summary>Counters of the embedded server, for the admin endpoint and tests.</summary>
/// <param name="ProtocolViolations">Connections closed for breaking the framing (oversized payload, end of stream mid-message).</param>
/// <param name="SlowClientsDropped">Connections dropped because their queue of replies and watch events passed its bound.</param>
/// <param name="ConnectionFaults">Connections ended by an unexpected exception in the server: a defect, should stay 0.</param>
/// <param name="ConnectionsRefused">Connections closed as soon as accepted because <see cref="XenStoreServerOptions.MaxConnections"/> were open.</param>
/// <param name="QuotaRefusals">Requests answered ENOSPC because they would have passed a quota.</param>
/// <param name="WatchEventsCoalesced">Watch events not queued because an identical one was still queued for the same connection.</param>
/// <param name="AcceptFailures">Failed accepts (out of descriptors, buffers): each makes the accept loop wait before it tries again.</param>
public readonly record struct XenStoreServerStatistics(
    int OpenConnections,
    long ConnectionsAccepted,
    long ProtocolViolations,
    long SlowClientsDropped,
    long ConnectionFaults,
    long RequestsProcessed,
    int Nodes,
    long ConnectionsRefused = 0,
    long QuotaRefusals = 0,
    long WatchEventsCoalesced = 0,
    long AcceptFailures = 0);
