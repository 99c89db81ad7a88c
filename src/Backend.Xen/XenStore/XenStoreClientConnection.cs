using System.Buffers;
using System.Net.Sockets;
using System.Text;

namespace Backend.Xen.XenStore;

/// <summary>
/// One connection of a <see cref="XenStoreClient"/>: the stream, the requests in flight on it (matched to
/// replies by req_id) and the reader loop that completes them and hands watch events to the client. Each
/// message goes out in exactly one Write call (xenbus takes one message per write), in the order of the
/// calls (the write lock hands over first come, first served). When the stream breaks, every request in
/// flight and every later one fails with <see cref="XenStoreConnectionException"/> and the client is told,
/// once; a reconnecting client then opens another.
/// </summary>
internal sealed class XenStoreClientConnection : IAsyncDisposable
{
    private const int ReceiveBufferSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly Action<ReadOnlySpan<byte>> _onWatchEvent;
    private readonly Action<XenStoreClientConnection, Exception> _onBroken;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly object _gate = new();
    private readonly Dictionary<uint, TaskCompletionSource<XenStoreReply>> _pending = [];
    private readonly CancellationTokenSource _stopping = new();
    private Task _readLoop = Task.CompletedTask;
    private uint _lastRequestId;
    private Exception? _failure;
    private int _disposed;

    /// <param name="stream">Owned from now on; disposed with the connection.</param>
    /// <param name="onWatchEvent">A WATCH_EVENT's payload, on the reader; an exception from it breaks the connection.</param>
    /// <param name="onBroken">Called once, with the reason, when the connection breaks (or is disposed).</param>
    public XenStoreClientConnection(Stream stream, Action<ReadOnlySpan<byte>> onWatchEvent, Action<XenStoreClientConnection, Exception> onBroken)
    {
        _stream = stream;
        _onWatchEvent = onWatchEvent;
        _onBroken = onBroken;
    }

    public bool IsBroken
    {
        get
        {
            lock (_gate)
                return _failure is not null;
        }
    }

    public void Start() => _readLoop = Task.Run(ReadLoopAsync);

    /// <summary>What a request on a connection broken by <paramref name="failure"/> fails with.</summary>
    /// <param name="notSent">Whether the request never reached xenstore.</param>
    public static Exception Broken(Exception failure, bool notSent = false) => failure is ObjectDisposedException disposedException
        ? new ObjectDisposedException(nameof(XenStoreClient), disposedException)
        : new XenStoreConnectionException("xenstore connection is broken: " + failure.Message, failure) { RequestNotSent = notSent };

    /// <summary>
    /// Sends one request of <paramref name="payloadLength"/> bytes: <paramref name="first"/> NUL-terminated, then
    /// <paramref name="second"/> (NUL-terminated unless <paramref name="valueTerminated"/> is false), and waits
    /// for the reply with its req_id.
    /// </summary>
    public async Task<XenStoreReply> RequestAsync(XenStoreMessageType type, uint transactionId, string first, string? second,
        bool valueTerminated, int payloadLength, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var completion = new TaskCompletionSource<XenStoreReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        uint requestId;
        lock (_gate)
        {
            if (_failure is not null)
                throw Broken(_failure, notSent: true);
            do
                requestId = ++_lastRequestId;
            while (requestId == 0 || _pending.ContainsKey(requestId));
            _pending.Add(requestId, completion);
        }

        var total = XenStoreMessageHeader.Size + payloadLength;
        var message = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            new XenStoreMessageHeader(type, requestId, transactionId, (uint)payloadLength).Write(message);
            var at = XenStoreMessageHeader.Size;
            at += Encoding.UTF8.GetBytes(first, message.AsSpan(at));
            message[at++] = 0;
            if (second is not null)
            {
                at += Encoding.UTF8.GetBytes(second, message.AsSpan(at));
                if (valueTerminated)
                    message[at] = 0;
            }
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // Never cancelled half-way: a partial message would break the framing for every request.
                await _stream.WriteAsync(message.AsMemory(0, total), CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            lock (_gate)
                _pending.Remove(requestId);
            throw;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            Fail(new XenStoreConnectionException("xenstore: writing a request failed", e));
            lock (_gate)
                throw Broken(_failure!, notSent: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
        }

        if (!cancellationToken.CanBeCanceled)
            return await completion.Task.ConfigureAwait(false);
        try
        {
            return await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The reply, if it comes, finds no one waiting and is dropped.
            lock (_gate)
                _pending.Remove(requestId);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Fail(new ObjectDisposedException(nameof(XenStoreClient)));
        _stopping.Cancel();
        await _stream.DisposeAsync().ConfigureAwait(false);
        await _readLoop.ConfigureAwait(false);
        _stopping.Dispose();
        _writeLock.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
        try
        {
            int start = 0, end = 0;
            while (true)
            {
                while (end - start >= XenStoreMessageHeader.Size)
                {
                    var header = XenStoreMessageHeader.Read(buffer.AsSpan(start));
                    if (header.Length > XenStoreLimits.PayloadMax)
                        throw new XenStoreConnectionException($"xenstore sent a {header.Type} message of {header.Length} bytes, over XENSTORE_PAYLOAD_MAX");
                    var total = XenStoreMessageHeader.Size + (int)header.Length;
                    if (end - start < total)
                        break;
                    Deliver(header, buffer.AsSpan(start + XenStoreMessageHeader.Size, (int)header.Length));
                    start += total;
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
                var read = await _stream.ReadAsync(buffer.AsMemory(end), _stopping.Token).ConfigureAwait(false);
                if (read == 0)
                    throw new XenStoreConnectionException("xenstore closed the connection");
                end += read;
            }
        }
        catch (Exception e)
        {
            // Whatever ended the loop (the peer, a protocol violation, a watch callback that threw, our own
            // disposal) ends the connection: every pending request learns why.
            Fail(e is XenStoreConnectionException ? e : new XenStoreConnectionException("xenstore connection failed", e));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Deliver(XenStoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Type == XenStoreMessageType.WatchEvent)
        {
            _onWatchEvent(payload);
            return;
        }
        TaskCompletionSource<XenStoreReply>? completion;
        lock (_gate)
        {
            if (!_pending.Remove(header.RequestId, out completion))
                return; // A cancelled request's reply.
        }
        completion.TrySetResult(new XenStoreReply(header.Type, payload.ToArray()));
    }

    private void Fail(Exception reason)
    {
        List<TaskCompletionSource<XenStoreReply>> broken;
        lock (_gate)
        {
            if (_failure is not null)
                return;
            _failure = reason;
            broken = [.. _pending.Values];
            _pending.Clear();
            // Under the lock: whoever sees the connection broken finds the client told already (it takes
            // only its own lock and starts the reconnect on the thread pool).
            _onBroken(this, reason);
        }
        foreach (var completion in broken)
            completion.TrySetException(Broken(reason));
    }
}
