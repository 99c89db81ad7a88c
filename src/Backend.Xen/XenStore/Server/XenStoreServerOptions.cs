namespace Backend.Xen.XenStore.Server;

/// <summary>
/// The embedded server's quotas. A request past one is answered ENOSPC (watches and transactions too), as
/// C xenstored answers its quotas (oxenstored answers EQUOTA, which is not in xs_wire.h's xsd_errors, so a
/// libxenstore client would read it as EINVAL); the refused request changes nothing and other connections
/// do not notice. Xen applies its quotas to guests and exempts dom0; under SIMXEN every socket client is
/// privileged and a guest is a socket client too, so every connection gets the same quotas, sized so that
/// the daemon and a toolstack serving thousands of vifs over one connection never meet them, while no
/// client can make the server hold more than these bounds (docs/decisions.md). Xen's guest values are
/// given with each; a test or a deployment may set them.
/// </summary>
public sealed record XenStoreServerOptions
{
    /// <summary>
    /// Connections open at once; one more is accepted and closed at once (counted). oxenstored and C
    /// xenstored bound them only by the descriptor limit; SIMXEN's bench opens about one per 32 guests.
    /// </summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>
    /// Nodes a connection holds: those it created or last wrote that still exist (xenstored counts nodes by
    /// owning domain: 1000 per guest in both daemons' defaults). A toolstack creates about 25 per vif and
    /// the backend about 15, so this is room for some 10,000 vifs on one connection.
    /// </summary>
    public int MaxNodesPerConnection { get; init; } = 262_144;

    /// <summary>
    /// Bytes a connection holds: path and value of each node it holds, path and token of each of its
    /// watches, and the payloads of the requests of its open transactions (C xenstored's memory quota,
    /// 2.5 MB per guest). A vif costs its toolstack about 2 KB.
    /// </summary>
    public long MaxBytesPerConnection { get; init; } = 64L << 20;

    /// <summary>Nodes in the whole tree, whoever holds them: what a client that reconnects to start afresh still meets.</summary>
    public int MaxNodes { get; init; } = 1 << 20;

    /// <summary>Bytes of the whole tree (paths and values) and of every open transaction.</summary>
    public long MaxBytes { get; init; } = 256L << 20;

    /// <summary>A node's value (oxenstored's quota-maxsize and C xenstored's node-size: 2048).</summary>
    public int MaxValueSize { get; init; } = 2048;

    /// <summary>Permissions of one node, owner included (C xenstored's node-permissions: 5).</summary>
    public int MaxPermissionsPerNode { get; init; } = 5;

    /// <summary>
    /// Watches one connection may hold (C xenstored 128 and oxenstored 100 per guest). A backend watches
    /// two nodes per vif on one connection, so the bound is set for thousands of vifs.
    /// </summary>
    public int MaxWatchesPerConnection { get; init; } = 65536;

    /// <summary>Open transactions per connection (10 per guest in both daemons; a guest process here runs up to 32 netfronts on one connection).</summary>
    public int MaxTransactionsPerConnection { get; init; } = 64;

    /// <summary>Requests inside one transaction (oxenstored's quota-maxrequests and C xenstored's transaction-nodes: 1024); creating a vif takes about 50.</summary>
    public int MaxRequestsPerTransaction { get; init; } = 1024;

    /// <summary>
    /// Bytes of replies and watch events queued for a client that does not read them; past this the
    /// connection is dropped, so a slow client costs bounded memory and never stalls the others. A watch
    /// event identical to one still queued is not queued again, as C xenstored does, so this is reached
    /// only by events for distinct paths.
    /// </summary>
    public int MaxQueuedBytesPerConnection { get; init; } = 1 << 20;

    internal void Validate()
    {
        AtLeast(MaxConnections, 1, nameof(MaxConnections));
        AtLeast(MaxNodesPerConnection, 1, nameof(MaxNodesPerConnection));
        AtLeast(MaxBytesPerConnection, 1, nameof(MaxBytesPerConnection));
        AtLeast(MaxNodes, 1, nameof(MaxNodes));
        AtLeast(MaxBytes, 1, nameof(MaxBytes));
        AtLeast(MaxValueSize, 0, nameof(MaxValueSize));
        AtLeast(MaxPermissionsPerNode, 1, nameof(MaxPermissionsPerNode));
        AtLeast(MaxWatchesPerConnection, 1, nameof(MaxWatchesPerConnection));
        AtLeast(MaxTransactionsPerConnection, 1, nameof(MaxTransactionsPerConnection));
        AtLeast(MaxRequestsPerTransaction, 1, nameof(MaxRequestsPerTransaction));
        if (MaxQueuedBytesPerConnection < XenStoreMessageHeader.Size + XenStoreLimits.PayloadMax)
            throw new ArgumentOutOfRangeException(nameof(MaxQueuedBytesPerConnection), MaxQueuedBytesPerConnection, "must hold at least one whole message");
    }

    private static void AtLeast(long value, long minimum, string name)
    {
        if (value < minimum)
            throw new ArgumentOutOfRangeException(name, value, $"must be at least {minimum}");
    }
}
