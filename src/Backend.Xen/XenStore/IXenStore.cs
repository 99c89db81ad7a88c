namespace Backend.Xen.XenStore;

/// <summary>
/// A xenstore connection (xs_wire). Requests are pipelined on one connection and matched by req_id, so
/// many may be in flight at once. Every value read here may come from a guest: callers validate it.
/// </summary>
public interface IXenStore : IAsyncDisposable
{
    /// <summary>The value at <paramref name="path"/>, or null when it does not exist (ENOENT).</summary>
    Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default);

    Task WriteAsync(string path, string value, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default);

    Task MkdirAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default);

    /// <summary>Removes a node and its children; removing a missing node is not an error.</summary>
    Task RemoveAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default);

    /// <summary>The children's names, or null when the node does not exist.</summary>
    Task<IReadOnlyList<string>?> DirectoryAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default);

    /// <summary>Permissions in xs_wire text form ("n0", "r5", ...), or null when the node does not exist.</summary>
    Task<IReadOnlyList<string>?> GetPermissionsAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default);

    Task SetPermissionsAsync(string path, IReadOnlyList<string> permissions, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets a watch. Events (including the initial one xenstored sends) go to <paramref name="onEvent"/>,
    /// called on the connection's reader; it must not block, and one that throws breaks the connection (a
    /// defect made loud). Dispose the result to unwatch.
    /// </summary>
    Task<IAsyncDisposable> WatchAsync(string path, string token, Action<XenStoreWatchEvent> onEvent, CancellationToken cancellationToken = default);

    Task<XenStoreTransaction> StartTransactionAsync(CancellationToken cancellationToken = default);

    /// <summary>Ends a transaction; returns false when a commit met a conflict (EAGAIN) and must be retried.</summary>
    Task<bool> EndTransactionAsync(XenStoreTransaction transaction, bool commit, CancellationToken cancellationToken = default);
}
