namespace Backend.Xen.XenStore.Server;

/// <summary>Counters of the embedded server, for the admin endpoint and tests.</summary>
/// <param name="ProtocolViolations">Connections closed for breaking the framing (oversized payload, end of stream mid-message).</param>
/// <param name="SlowClientsDropped">Connections dropped because their queue of replies and watch events passed its bound.</param>
/// <param name="ConnectionFaults">Connections ended by an unexpected exception in the server: a defect, should stay 0.</param>
public readonly record struct XenStoreServerStatistics(
    int OpenConnections,
    long ConnectionsAccepted,
    long ProtocolViolations,
    long SlowClientsDropped,
    long ConnectionFaults,
    long RequestsProcessed,
    int Nodes);
