using System.Buffers;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Backend.Xen.XenStore.Server;

/// <summary>
/// One client of the embedded server: a reader that frames requests and hands each to the server, and a
/// writer that drains the connection's outbound queue (replies and watch events) in batches. Both are async
/// on the runtime's socket engine; no thread is held per client.
/// </summary>
internal sealed class XenStoreServerConnection
{
    // Room for a whole maximal message after compaction, with space to batch several small ones per receive.
    private const int ReceiveBufferSize = 64 * 1024;
    private const int SendBufferSize = 64 * 1024;

    private readonly XenStoreServer _server;
    // Null for a connection of a detached server: never run, its replies taken with TryTakeOutbound.
    private readonly Socket? _socket;
    private readonly int _maxQueuedBytes;
    private readonly Channel<OutboundMessage> _outbound =
        Channel.CreateUnbounded<OutboundMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _closing = new();
    private readonly SemaphoreSlim _drained = new(0);
    // Watch events queued and not yet taken by the writer, by path and token (see TryReserveWatchEvent).
    private readonly HashSet<(string Path, string Token)> _queuedWatchEvents = [];
    private long _queuedBytes;
    private int _readerWaiting;
    private int _closeRequested;

    public XenStoreServerConnection(XenStoreServer server, Socket? socket, int maxQueuedBytes)
    {
        _server = server;
        _socket = socket;
        _maxQueuedBytes = maxQueuedBytes;
    }

    // These are touched only under the server's lock.
    public Dictionary<uint, XenStoreTreeTransaction> Transactions { get; } = [];

    /// <summary>By path and token: WATCH finds a duplicate and UNWATCH its watch without a scan of them all.</summary>
    public Dictionary<(string Path, string Token), XenStoreServerWatch> Watches { get; } = [];

    public XenStoreQuotaAccount Account { get; } = new();

    public bool IsClosing => Volatile.Read(ref _closeRequested) != 0;

    /// <summary>Serves the connection until the client leaves, breaks the protocol or is dropped; never throws.</summary>
    public async Task RunAsync()
    {
        var socket = _socket ?? throw new InvalidOperationException("a detached connection is not run: take its replies with TryTakeOutbound");
        var writer = WriteLoopAsync(socket);
        try
        {
            await ReadLoopAsync(socket).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the connection was closed on purpose: nothing more to serve.
        }
        catch (Exception)
        {
            // A defect of ours, not the client's doing: count it (tests assert none) and end only this connection.
            _server.CountConnectionFault();
        }
        finally
        {
            Close();
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // As above: the writer ends with the connection.
            }
            _server.Forget(this);
            socket.Dispose();
            while (_outbound.Reader.TryRead(out var message))
                ArrayPool<byte>.Shared.Return(message.Buffer);
            _closing.Dispose();
            _drained.Dispose();
        }
    }

    /// <summary>Stops serving: the loops end and <see cref="RunAsync"/> cleans up. Safe under the server's lock.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) != 0)
            return;
        _outbound.Writer.TryComplete();
        if (_socket is null)
            return; // detached: no loops to cancel
        // Cancelling may run the loops' continuations inline; the caller may hold the server's lock (a slow
        // client dropped while watches fire), so cancel from the thread pool instead.
        ThreadPool.QueueUserWorkItem(static connection => connection.CancelLoops(), this, preferLocal: false);
    }

    private void CancelLoops()
    {
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already cleaned up.
        }
    }

    /// <summary>
    /// Claims the place of a watch event for <paramref name="path"/> and <paramref name="token"/> in the queue;
    /// false when an identical one is queued and not yet taken by the writer, which says all this one would.
    /// </summary>
    public bool TryReserveWatchEvent(string path, string token)
    {
        lock (_queuedWatchEvents)
            return _queuedWatchEvents.Add((path, token));
    }

    /// <summary>
    /// Queues a whole message (header already written) and takes ownership of the pooled buffer. Past the
    /// queue bound the client is not reading: drop it rather than let it hold memory.
    /// </summary>
    public bool Enqueue(OutboundMessage message)
    {
        if (Interlocked.Add(ref _queuedBytes, message.Length) > _maxQueuedBytes || !_outbound.Writer.TryWrite(message))
        {
            ArrayPool<byte>.Shared.Return(message.Buffer);
            if (!IsClosing)
            {
                _server.CountSlowClient();
                Close();
            }
            return false;
        }
        return true;
    }

    private async Task ReadLoopAsync(Socket socket)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
        try
        {
            int start = 0, end = 0;
            while (!_closing.IsCancellationRequested)
            {
                while (end - start >= XenStoreMessageHeader.Size)
                {
                    var header = XenStoreMessageHeader.Read(buffer.AsSpan(start));
                    if (header.Length > XenStoreLimits.PayloadMax)
                    {
                        // As xenstored: an oversized message breaks the framing; the connection is closed.
                        _server.CountProtocolViolation();
                        return;
                    }
                    var total = XenStoreMessageHeader.Size + (int)header.Length;
                    if (end - start < total)
                        break;
                    await WaitForRoomAsync().ConfigureAwait(false);
                    _server.Process(this, header, buffer.AsSpan(start + XenStoreMessageHeader.Size, (int)header.Length));
                    start += total;
                    if (IsClosing)
                        return;
                }
                if (start == end)
                {
                    start = end = 0;
                }
                else if (buffer.Length - end < XenStoreMessageHeader.Size + XenStoreLimits.PayloadMax)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }
                var received = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, _closing.Token).ConfigureAwait(false);
                if (received == 0)
                {
                    // End of stream; a partial message left over means the client left mid-message.
                    if (end > start)
                        _server.CountProtocolViolation();
                    return;
                }
                end += received;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Flow control, as xenstored: a client that sends requests faster than it reads the replies is simply
    /// not read from until its queue drains to half the bound. Only watch events (which the client does not
    /// pace) can push the queue past the bound and get it dropped.
    /// </summary>
    private async Task WaitForRoomAsync()
    {
        var threshold = _maxQueuedBytes / 2;
        while (Volatile.Read(ref _queuedBytes) > threshold)
        {
            Volatile.Write(ref _readerWaiting, 1);
            if (Volatile.Read(ref _queuedBytes) <= threshold)
                break;
            await _drained.WaitAsync(_closing.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A detached connection's next queued message (reply or watch event), copied into
    /// <paramref name="destination"/> (room for a whole message: header and XENSTORE_PAYLOAD_MAX) as the
    /// writer would send it; false when none is queued.
    /// </summary>
    internal bool TryTakeOutbound(Span<byte> destination, out int length)
    {
        length = 0;
        if (!_outbound.Reader.TryRead(out var message))
            return false;
        length = Take(message, destination);
        return true;
    }

    /// <summary>Takes one message off the queue into <paramref name="destination"/> and returns its buffer to the pool.</summary>
    private int Take(OutboundMessage message, Span<byte> destination)
    {
        if (message.WatchEvent is { } watchEvent)
        {
            // On its way to the socket: a change from now on needs an event of its own.
            lock (_queuedWatchEvents)
                _queuedWatchEvents.Remove(watchEvent);
        }
        message.Buffer.AsSpan(0, message.Length).CopyTo(destination);
        Interlocked.Add(ref _queuedBytes, -message.Length);
        ArrayPool<byte>.Shared.Return(message.Buffer);
        return message.Length;
    }

    private async Task WriteLoopAsync(Socket socket)
    {
        var batch = ArrayPool<byte>.Shared.Rent(SendBufferSize);
        try
        {
            var reader = _outbound.Reader;
            while (await reader.WaitToReadAsync(_closing.Token).ConfigureAwait(false))
            {
                var used = 0;
                while (reader.TryPeek(out var next) && used + next.Length <= batch.Length && reader.TryRead(out var message))
                    used += Take(message, batch.AsSpan(used));
                await socket.SendAsync(batch.AsMemory(0, used), SocketFlags.None, _closing.Token).ConfigureAwait(false);
                if (Interlocked.Exchange(ref _readerWaiting, 0) == 1)
                    _drained.Release();
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away: stop the reader too.
            Close();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch);
        }
    }
}
