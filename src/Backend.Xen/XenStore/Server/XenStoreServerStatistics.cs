namespace Backend.Xen.XenStore.Server;

/// <summary>Counters of the embedded server, for the admin endpoint and tests.</summary>
public readonly record struct XenStoreServerStatistics(
    int OpenConnections,
    long ConnectionsAccepted,
    long ProtocolViolations,
    long SlowClientsDropped,
    long RequestsProcessed,
    int Nodes);
