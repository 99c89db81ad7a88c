using Backend.Xen.XenStore;

namespace Backend.Fuzz.Xenbus;

/// <summary>
/// Nodes in a dictionary, read through <see cref="IXenStore"/>: what the configuration readers see of
/// xenstore. They only read, so only reads are served; anything else is a use this double was not made
/// for and says so. Reads complete at once, so a reader runs to its end on the caller's thread.
/// </summary>
internal sealed class MemoryXenStore : IXenStore
{
    private static readonly Task<string?> Missing = Task.FromResult<string?>(null);

    public Dictionary<string, string> Nodes { get; } = new(StringComparer.Ordinal);

    /// <summary>The node's value, null when missing, or xenstored's EINVAL for a path it would refuse.</summary>
    public Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        if (!XenStorePath.IsValid(path, allowSpecial: false))
            return Task.FromException<string?>(new XenStoreErrorException(XenStoreErrors.EINVAL, XenStoreMessageType.Read, path));
        return Nodes.TryGetValue(path, out var value) ? Task.FromResult<string?>(value) : Missing;
    }

    public Task WriteAsync(string path, string value, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => Unsupported();

    public Task MkdirAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => Unsupported();

    public Task RemoveAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => Unsupported();

    public Task<IReadOnlyList<string>?> DirectoryAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Unsupported<IReadOnlyList<string>?>();

    public Task<IReadOnlyList<string>?> GetPermissionsAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Unsupported<IReadOnlyList<string>?>();

    public Task SetPermissionsAsync(string path, IReadOnlyList<string> permissions, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Unsupported();

    public Task<IAsyncDisposable> WatchAsync(string path, string token, Action<XenStoreWatchEvent> onEvent, CancellationToken cancellationToken = default) =>
        Unsupported<IAsyncDisposable>();

    public Task<XenStoreTransaction> StartTransactionAsync(CancellationToken cancellationToken = default) => Unsupported<XenStoreTransaction>();

    public Task<bool> EndTransactionAsync(XenStoreTransaction transaction, bool commit, CancellationToken cancellationToken = default) => Unsupported<bool>();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static Task Unsupported() => Unsupported<bool>();

    private static Task<T> Unsupported<T>() =>
        Task.FromException<T>(new NotSupportedException("the configuration readers only read; this double serves reads only"));
}
