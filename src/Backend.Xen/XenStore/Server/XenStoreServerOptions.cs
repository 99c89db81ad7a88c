namespace Backend.Xen.XenStore.Server;

/// <summary>Per-connection limits of the embedded server; a client past one gets xenstored's error or is dropped.</summary>
public sealed record XenStoreServerOptions
{
    /// <summary>
    /// Watches one connection may hold; the next WATCH answers E2BIG, as xenstored's watch quota. Every
    /// SIMXEN socket client is privileged, and xenstored exempts dom0 from the quota: a backend watches
    /// two nodes per vif on one connection, so the bound is set for thousands of vifs, while still
    /// keeping a runaway client from growing without limit.
    /// </summary>
    public int MaxWatchesPerConnection { get; init; } = 65536;

    /// <summary>Open transactions per connection; the next TRANSACTION_START answers ENOSPC, as xenstored's quota.</summary>
    public int MaxTransactionsPerConnection { get; init; } = 64;

    /// <summary>
    /// Bytes of replies and watch events queued for a client that does not read them; past this the
    /// connection is dropped, so a slow client costs bounded memory and never stalls the others.
    /// </summary>
    public int MaxQueuedBytesPerConnection { get; init; } = 1 << 20;

    internal void Validate()
    {
        if (MaxWatchesPerConnection < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxWatchesPerConnection), MaxWatchesPerConnection, "must be at least 1");
        if (MaxTransactionsPerConnection < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxTransactionsPerConnection), MaxTransactionsPerConnection, "must be at least 1");
        if (MaxQueuedBytesPerConnection < XenStoreMessageHeader.Size + XenStoreLimits.PayloadMax)
            throw new ArgumentOutOfRangeException(nameof(MaxQueuedBytesPerConnection), MaxQueuedBytesPerConnection, "must hold at least one whole message");
    }
}
