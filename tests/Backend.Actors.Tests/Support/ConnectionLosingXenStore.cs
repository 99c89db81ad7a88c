using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// A xenstore connection that loses chosen requests as a connection lost under them does (they fail with
/// <see cref="XenStoreConnectionException"/>), and can fire a watch as setting it again on a new
/// connection does; everything else goes to the real connection it wraps.
/// </summary>
public sealed class ConnectionLosingXenStore(IXenStore inner) : DelegatingXenStore(inner)
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

    public override Task<IReadOnlyList<string>?> DirectoryAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _loseNextDirectory, 0) == 1)
        {
            Interlocked.Increment(ref _lost);
            return Task.FromException<IReadOnlyList<string>?>(new XenStoreConnectionException("xenstore connection is broken: xenstore closed the connection"));
        }
        return base.DirectoryAsync(path, transaction, cancellationToken);
    }

    public override async Task<IAsyncDisposable> WatchAsync(string path, string token, Action<XenStoreWatchEvent> onEvent, CancellationToken cancellationToken = default)
    {
        var watch = await base.WatchAsync(path, token, onEvent, cancellationToken);
        lock (_watches)
            _watches[path] = onEvent;
        return watch;
    }
}
