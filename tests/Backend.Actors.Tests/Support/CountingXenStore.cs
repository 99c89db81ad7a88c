using System.Collections.Concurrent;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>The daemon's xenstore connection with a count of READs per path: what a guest makes it ask.</summary>
public sealed class CountingXenStore(IXenStore inner) : IXenStore
{
    private readonly ConcurrentDictionary<string, int> _reads = new(StringComparer.Ordinal);

    public int ReadsOf(string path) => _reads.TryGetValue(path, out var n) ? n : 0;

    public Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        _reads.AddOrUpdate(path, 1, static (_, n) => n + 1);
        return inner.ReadAsync(path, transaction, cancellationToken);
    }

    public Task WriteAsync(string path, string value, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(path, value, transaction, cancellationToken);

    public Task MkdirAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.MkdirAsync(path, transaction, cancellationToken);

    public Task RemoveAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.RemoveAsync(path, transaction, cancellationToken);

    public Task<IReadOnlyList<string>?> DirectoryAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.DirectoryAsync(path, transaction, cancellationToken);

    public Task<IReadOnlyList<string>?> GetPermissionsAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.GetPermissionsAsync(path, transaction, cancellationToken);

    public Task SetPermissionsAsync(string path, IReadOnlyList<string> permissions, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.SetPermissionsAsync(path, permissions, transaction, cancellationToken);

    public Task<IAsyncDisposable> WatchAsync(string path, string token, Action<XenStoreWatchEvent> onEvent, CancellationToken cancellationToken = default) =>
        inner.WatchAsync(path, token, onEvent, cancellationToken);

    public Task<XenStoreTransaction> StartTransactionAsync(CancellationToken cancellationToken = default) =>
        inner.StartTransactionAsync(cancellationToken);

    public Task<bool> EndTransactionAsync(XenStoreTransaction transaction, bool commit, CancellationToken cancellationToken = default) =>
        inner.EndTransactionAsync(transaction, commit, cancellationToken);

    // The inner connection belongs to whoever made it.
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
