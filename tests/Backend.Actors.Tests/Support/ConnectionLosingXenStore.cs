using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// A xenstore connection that loses chosen requests as a connection lost under them does (they fail with
/// <see cref="XenStoreConnectionException"/>), and can fire a watch as setting it again on a new
/// connection does; everything else goes to the real connection it wraps.
/// </summary>
public sealed class ConnectionLosingXenStore(IXenStore inner) : IXenStore
{
    private readonly Dictionary<string, Action<XenStoreWatchEvent>> _watches = [];
    private int _loseNextDirectory;
    private int _lost;

    /// <summary>Requests lost so far.</summary>
    public int Lost => Volatile.Read(ref _lost);

    /// <summary>The next DIRECTORY, whatever its path, is lost.</summary>
    public void LoseNextDirectory() => Volatile.Write(ref _loseNextDirectory, 1);

    /// <summary>The initial event of the watch on <paramref name="path"/>, as a reconnecting client's is after it sets the watch again.</summary>
    public void FireAgain(string path)
    {
        Action<XenStoreWatchEvent> onEvent;
        lock (_watches)
            onEvent = _watches[path];
        onEvent(new XenStoreWatchEvent(path, "again"));
    }

    public Task<IReadOnlyList<string>?> DirectoryAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _loseNextDirectory, 0) == 1)
        {
            Interlocked.Increment(ref _lost);
            return Task.FromException<IReadOnlyList<string>?>(new XenStoreConnectionException("xenstore connection is broken: xenstore closed the connection"));
        }
        return inner.DirectoryAsync(path, transaction, cancellationToken);
    }

    public async Task<IAsyncDisposable> WatchAsync(string path, string token, Action<XenStoreWatchEvent> onEvent, CancellationToken cancellationToken = default)
    {
        var watch = await inner.WatchAsync(path, token, onEvent, cancellationToken);
        lock (_watches)
            _watches[path] = onEvent;
        return watch;
    }

    public Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(path, transaction, cancellationToken);

    public Task WriteAsync(string path, string value, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(path, value, transaction, cancellationToken);

    public Task MkdirAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.MkdirAsync(path, transaction, cancellationToken);

    public Task RemoveAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.RemoveAsync(path, transaction, cancellationToken);

    public Task<IReadOnlyList<string>?> GetPermissionsAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.GetPermissionsAsync(path, transaction, cancellationToken);

    public Task SetPermissionsAsync(string path, IReadOnlyList<string> permissions, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        inner.SetPermissionsAsync(path, permissions, transaction, cancellationToken);

    public Task<XenStoreTransaction> StartTransactionAsync(CancellationToken cancellationToken = default) =>
        inner.StartTransactionAsync(cancellationToken);

    public Task<bool> EndTransactionAsync(XenStoreTransaction transaction, bool commit, CancellationToken cancellationToken = default) =>
        inner.EndTransactionAsync(transaction, commit, cancellationToken);

    /// <summary>The wrapped connection is the fixture's; it disposes it.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
