namespace Backend.Xen.XenStore;

/// <summary>A watch set through <see cref="XenStoreClient"/>; disposing it unwatches.</summary>
internal sealed class XenStoreWatchRegistration(XenStoreClient client, string path, string token, Action<XenStoreWatchEvent> onEvent)
    : IAsyncDisposable
{
    private int _disposed;

    public string Path { get; } = path;

    public string Token { get; } = token;

    public Action<XenStoreWatchEvent> OnEvent { get; } = onEvent;

    /// <summary>The connection the watch is set on (null until its first WATCH is answered); under the client's lock.</summary>
    public XenStoreClientConnection? Connection { get; set; }

    /// <summary>
    /// Whether an event is this watch's: same token, and a path at or below the watch's (xenstored reports a
    /// removed ancestor with the watch's own path, which matches too).
    /// </summary>
    public bool Matches(XenStoreWatchEvent watchEvent) =>
        watchEvent.Token == Token
        && (watchEvent.Path == Path || (!XenStorePath.IsSpecial(Path) && XenStorePath.IsAtOrBelow(watchEvent.Path, Path)));

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            await client.UnwatchAsync(this).ConfigureAwait(false);
    }
}
