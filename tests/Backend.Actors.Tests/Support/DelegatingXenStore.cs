using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// A xenstore connection that hands every request to the real one it wraps; the test doubles that watch or
/// disturb the daemon's requests override only what they change. The wrapped connection is the fixture's,
/// which disposes it.
/// </summary>
public abstract class DelegatingXenStore(IXenStore inner) : IXenStore
{
    protected IXenStore Inner { get; } = inner;

    public virtual Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(path, transaction, cancellationToken);

    public virtual Task WriteAsync(string path, string value, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Inner.WriteAsync(path, value, transaction, cancellationToken);

    public virtual Task MkdirAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Inner.MkdirAsync(path, transaction, cancellationToken);

    public virtual Task RemoveAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Inner.RemoveAsync(path, transaction, cancellationToken);

    public virtual Task<IReadOnlyList<string>?> DirectoryAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Inner.DirectoryAsync(path, transaction, cancellationToken);

    public virtual Task<IReadOnlyList<string>?> GetPermissionsAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Inner.GetPermissionsAsync(path, transaction, cancellationToken);

    public virtual Task SetPermissionsAsync(string path, IReadOnlyList<string> permissions, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        Inner.SetPermissionsAsync(path, permissions, transaction, cancellationToken);

    public virtual Task<IAsyncDisposable> WatchAsync(string path, string token, Action<XenStoreWatchEvent> onEvent, CancellationToken cancellationToken = default) =>
        Inner.WatchAsync(path, token, onEvent, cancellationToken);

    public virtual Task<XenStoreTransaction> StartTransactionAsync(CancellationToken cancellationToken = default) =>
        Inner.StartTransactionAsync(cancellationToken);

    public virtual Task<bool> EndTransactionAsync(XenStoreTransaction transaction, bool commit, CancellationToken cancellationToken = default) =>
        Inner.EndTransactionAsync(transaction, commit, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
