using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Backend.Xen.XenStore;
/// <summary>
/// An xs_wire client over a byte stream: a Unix socket to xenstored (or SIMXEN's server), or an unbuffered
/// stream on Linux's <c>/dev/xen/xenbus</c>. Requests are pipelined and matched to replies by req_id, and go
/// out in the order of the calls, so requests issued without awaiting each other still reach xenstore in
/// program order (<see cref="XenStoreClientConnection"/>). When the connection breaks, every request in
/// flight fails with <see cref="XenStoreConnectionException"/>. A client that connected by socket path
/// with <c>reconnect</c> then connects again (waiting 10 ms, doubling to 1 s, between attempts) and sets
/// every watch it still holds again before anything else, so that each fires once more and its user
/// re-reads what it watches, as after a first WATCH; requests made meanwhile wait for the new connection,
/// and a transaction of the lost one fails. Otherwise every later request fails too.
/// </summary>
public sealed class XenStoreClient : IXenStore
{
    private const int MaxDirectoryPartRestarts = 8;

    private readonly object _gate = new();
    private readonly XenStoreWatchIndex _watches = new();
    private readonly Func<CancellationToken, Task<Stream>>? _reconnect;
    private readonly CancellationTokenSource _stopping = new();
    private XenStoreClientConnection _connection;
    // Set while a lost connection is being replaced; requests wait for it.
    private TaskCompletionSource<XenStoreClientConnection>? _replaced;
    private Task _reconnecting = Task.CompletedTask;
    // Set when the client will not connect again: disposed, not reconnecting, or a watch callback threw.
    private Exception? _failure;
    private bool _callbackFailed;
    private long _reconnects;
    private long _watchesLost;
    private int _disposed;

    /// <param name="stream">Owned by the client from now on; disposed with it.</param>
    public XenStoreClient(Stream stream)
        : this(stream, null)
    {
    }

    /// <param name="reconnect">Opens a new stream when the connection is lost; null: a lost connection is final.</param>
    internal XenStoreClient(Stream stream, Func<CancellationToken, Task<Stream>>? reconnect)
    {
        _reconnect = reconnect;
        _connection = new XenStoreClientConnection(stream, DeliverWatchEvent, OnBroken);
        _connection.Start();
    }

    /// <summary>Connections opened again after one was lost.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>Watches that xenstore refused to set again on a new connection (so they are gone).</summary>
    public long WatchesLost => Interlocked.Read(ref _watchesLost);

    /// <summary>Connects to a xenstored Unix socket (SIMXEN: <c>ROOT/xenstored.sock</c>); a lost connection is final.</summary>
    public static Task<XenStoreClient> ConnectAsync(string socketPath, CancellationToken cancellationToken = default) =>
        ConnectAsync(socketPath, reconnect: false, cancellationToken);

    /// <summary>
    /// Connects to a xenstored Unix socket. With <paramref name="reconnect"/>, a lost connection is replaced
    /// (see the class); the first connection must succeed, so that a wrong path is an error at once.
    /// </summary>
    public static async Task<XenStoreClient> ConnectAsync(string socketPath, bool reconnect, CancellationToken cancellationToken = default)
    {
        var stream = await OpenSocketAsync(socketPath, cancellationToken).ConfigureAwait(false);
        return new XenStoreClient(stream, reconnect ? ct => OpenSocketAsync(socketPath, ct) : null);
    }

    private static async Task<Stream> OpenSocketAsync(string socketPath, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new NetworkStream(socket, ownsSocket: true);
    }

    public async Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.Read, transaction, path, path, null, cancellationToken).ConfigureAwait(false);
        return IsError(reply, XenStoreErrors.ENOENT) ? null : Encoding.UTF8.GetString(Expect(reply, XenStoreMessageType.Read, path));
    }

    /// <summary>
    /// READ of a path relative to this connection's own domain (xenstored resolves it under
    /// <c>/local/domain/&lt;caller&gt;/</c>), as <c>xenstore-read domid</c> does: the one way a domain learns its
    /// own id through xenstore. <see cref="ReadAsync"/> takes absolute paths only, so that a path meant to be
    /// absolute never silently resolves elsewhere. SIMXEN's embedded server answers relative paths with EINVAL.
    /// </summary>
    public async Task<string?> ReadRelativeAsync(string path, CancellationToken cancellationToken = default)
    {
        if (!XenStorePath.IsValidRelative(path))
            throw new ArgumentException($"\"{path}\" is not a valid relative xenstore path", nameof(path));
        var reply = await RequestAsync(XenStoreMessageType.Read, null, null, path, null, cancellationToken).ConfigureAwait(false);
        return IsError(reply, XenStoreErrors.ENOENT) ? null : Encoding.UTF8.GetString(Expect(reply, XenStoreMessageType.Read, path));
    }

    public async Task WriteAsync(string path, string value, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        // WRITE's value is the rest of the payload, not NUL-terminated.
        var reply = await RequestAsync(XenStoreMessageType.Write, transaction, path, path, value, cancellationToken, valueTerminated: false).ConfigureAwait(false);
        Expect(reply, XenStoreMessageType.Write, path);
    }

    public async Task MkdirAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.Mkdir, transaction, path, path, null, cancellationToken).ConfigureAwait(false);
        Expect(reply, XenStoreMessageType.Mkdir, path);
    }

    public async Task RemoveAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.Rm, transaction, path, path, null, cancellationToken).ConfigureAwait(false);
        // The interface promises that removing a missing node is no error, even when its parent is missing too.
        if (!IsError(reply, XenStoreErrors.ENOENT))
            Expect(reply, XenStoreMessageType.Rm, path);
    }

    public async Task<IReadOnlyList<string>?> DirectoryAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.Directory, transaction, path, path, null, cancellationToken).ConfigureAwait(false);
        if (IsError(reply, XenStoreErrors.ENOENT))
            return null;
        if (IsError(reply, XenStoreErrors.E2BIG))
            return await DirectoryPartsAsync(path, transaction, cancellationToken).ConfigureAwait(false);
        return SplitStrings(Expect(reply, XenStoreMessageType.Directory, path));
    }

    /// <summary>A list too long for one reply, in parts, restarting when the node changes in between (as libxenstore).</summary>
    private async Task<IReadOnlyList<string>?> DirectoryPartsAsync(string path, XenStoreTransaction? transaction, CancellationToken cancellationToken)
    {
        for (var restart = 0; restart < MaxDirectoryPartRestarts; restart++)
        {
            var children = new List<string>();
            string? generation = null;
            var offset = 0;
            while (true)
            {
                var reply = await RequestAsync(XenStoreMessageType.DirectoryPart, transaction, path, path,
                    offset.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
                if (IsError(reply, XenStoreErrors.ENOENT))
                    return null;
                var part = SplitStrings(Expect(reply, XenStoreMessageType.DirectoryPart, path));
                if (part.Count < 2)
                    throw new XenStoreConnectionException($"xenstore DIRECTORY_PART {path}: malformed reply");
                if (generation is null)
                    generation = part[0];
                else if (generation != part[0])
                    break;
                var end = false;
                for (var i = 1; i < part.Count; i++)
                {
                    // The final empty string marks the end of the list.
                    if (part[i].Length == 0)
                    {
                        end = true;
                        break;
                    }
                    children.Add(part[i]);
                    offset += Encoding.UTF8.GetByteCount(part[i]) + 1;
                }
                if (end)
                    return children;
            }
        }
        throw new XenStoreErrorException(XenStoreErrors.EAGAIN, XenStoreMessageType.DirectoryPart, path,
            $"xenstore DIRECTORY_PART {path}: the node kept changing while it was listed");
    }

    public async Task<IReadOnlyList<string>?> GetPermissionsAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.GetPerms, transaction, path, path, null, cancellationToken).ConfigureAwait(false);
        return IsError(reply, XenStoreErrors.ENOENT) ? null : SplitStrings(Expect(reply, XenStoreMessageType.GetPerms, path));
    }

    public async Task SetPermissionsAsync(string path, IReadOnlyList<string> permissions, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        if (permissions.Count == 0)
            throw new ArgumentException("at least one permission (the owner's) is needed", nameof(permissions));
        foreach (var permission in permissions)
        {
            if (!XenStorePermission.IsValid(permission))
                throw new ArgumentException($"\"{permission}\" is not a xenstore permission (n|r|w|b and a domid)", nameof(permissions));
        }
        var reply = await RequestAsync(XenStoreMessageType.SetPerms, transaction, path, path, string.Join('\0', permissions), cancellationToken).ConfigureAwait(false);
        Expect(reply, XenStoreMessageType.SetPerms, path);
    }

    public async Task<IAsyncDisposable> WatchAsync(string path, string token, Action<XenStoreWatchEvent> onEvent, CancellationToken cancellationToken = default)
    {
        var payloadLength = PayloadLength(XenStoreMessageType.Watch, path, path, token, valueTerminated: true);
        var registration = new XenStoreWatchRegistration(this, path, token, onEvent);
        // Registered before the request, so that the initial event (sent right after the reply) finds it.
        lock (_gate)
            _watches.Add(registration);
        try
        {
            while (true)
            {
                var on = await CurrentConnectionAsync(cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    // Lost with the connection while in flight, it was set again with the others.
                    if (registration.Connection == on)
                        return registration;
                }
                XenStoreReply reply;
                try
                {
                    reply = await on.RequestAsync(XenStoreMessageType.Watch, 0, path, token, true, payloadLength, cancellationToken).ConfigureAwait(false);
                }
                catch (XenStoreConnectionException) when (_reconnect is not null)
                {
                    // The connection replacing the lost one sets every watch held, this one included.
                    continue;
                }
                Expect(reply, XenStoreMessageType.Watch, path);
                lock (_gate)
                    registration.Connection = on;
                return registration;
            }
        }
        catch
        {
            XenStoreClientConnection? setOn;
            lock (_gate)
            {
                _watches.Remove(registration);
                setOn = registration.Connection == _connection ? _connection : null;
            }
            // Cancelled after a new connection had set it again: it must not stay set there.
            if (setOn is not null)
                _ = UnwatchOnAsync(setOn, registration);
            throw;
        }
    }

    /// <summary>Removes a watch: no more events to its callback, then UNWATCH on the connection it is set on (if that still lives).</summary>
    internal async Task UnwatchAsync(XenStoreWatchRegistration registration)
    {
        XenStoreClientConnection? on;
        lock (_gate)
        {
            if (!_watches.Remove(registration) || _failure is not null)
                return;
            // Set on a lost connection: gone with it (a new connection setting it again unwatches it there).
            on = registration.Connection == _connection ? _connection : null;
        }
        if (on is not null)
            await UnwatchOnAsync(on, registration).ConfigureAwait(false);
    }

    private static async Task UnwatchOnAsync(XenStoreClientConnection on, XenStoreWatchRegistration registration)
    {
        try
        {
            var payloadLength = PayloadLength(XenStoreMessageType.Unwatch, registration.Path, registration.Path, registration.Token, valueTerminated: true);
            var reply = await on.RequestAsync(XenStoreMessageType.Unwatch, 0, registration.Path, registration.Token, true, payloadLength, CancellationToken.None).ConfigureAwait(false);
            Expect(reply, XenStoreMessageType.Unwatch, registration.Path);
        }
        catch (Exception e) when (e is XenStoreConnectionException or ObjectDisposedException)
        {
            // The connection went away meanwhile, and its watches with it.
        }
    }

    public async Task<XenStoreTransaction> StartTransactionAsync(CancellationToken cancellationToken = default)
    {
        var (reply, on) = await SendAsync(XenStoreMessageType.TransactionStart, null, "", null, true, 1, cancellationToken).ConfigureAwait(false);
        var payload = Expect(reply, XenStoreMessageType.TransactionStart, null);
        var text = Encoding.UTF8.GetString(payload).TrimEnd('\0');
        if (!uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id == 0)
            throw new XenStoreConnectionException($"xenstore TRANSACTION_START: malformed transaction id \"{text}\"");
        // Bound to its connection: xenstore forgets it with the connection, so it must not go to another.
        return new XenStoreTransaction(id) { Connection = on };
    }

    public async Task<bool> EndTransactionAsync(XenStoreTransaction transaction, bool commit, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.TransactionEnd, transaction, null, commit ? "T" : "F", null, cancellationToken).ConfigureAwait(false);
        if (IsError(reply, XenStoreErrors.EAGAIN))
            return false;
        Expect(reply, XenStoreMessageType.TransactionEnd, null);
        return true;
    }

    /// <summary>GET_DOMAIN_PATH: where domain <paramref name="domid"/>'s keys live (<c>/local/domain/&lt;domid&gt;</c>).</summary>
    public async Task<string> GetDomainPathAsync(ushort domid, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.GetDomainPath, null, null, domid.ToString(CultureInfo.InvariantCulture), null, cancellationToken).ConfigureAwait(false);
        return Encoding.UTF8.GetString(Expect(reply, XenStoreMessageType.GetDomainPath, null)).TrimEnd('\0');
    }

    /// <summary>RESET_WATCHES: the server drops every watch and transaction of this connection.</summary>
    public async Task ResetWatchesAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
            _watches.Clear();
        var reply = await RequestAsync(XenStoreMessageType.ResetWatches, null, null, "", null, cancellationToken).ConfigureAwait(false);
        Expect(reply, XenStoreMessageType.ResetWatches, null);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        TaskCompletionSource<XenStoreClientConnection>? waiting;
        lock (_gate)
        {
            _failure ??= new ObjectDisposedException(nameof(XenStoreClient));
            waiting = _replaced;
            _replaced = null;
        }
        _stopping.Cancel();
        waiting?.TrySetException(new ObjectDisposedException(nameof(XenStoreClient)));
        await _reconnecting.ConfigureAwait(false);
        XenStoreClientConnection last;
        lock (_gate)
            last = _connection;
        await last.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private static int PayloadLength(XenStoreMessageType type, string? path, string first, string? second, bool valueTerminated)
    {
        if (path is not null && !XenStorePath.IsValid(path, allowSpecial: type is XenStoreMessageType.Watch or XenStoreMessageType.Unwatch))
            throw new ArgumentException($"\"{path}\" is not a valid xenstore path", nameof(path));
        var payloadLength = Encoding.UTF8.GetByteCount(first) + 1;
        if (second is not null)
            payloadLength += Encoding.UTF8.GetByteCount(second) + (valueTerminated ? 1 : 0);
        if (payloadLength > XenStoreLimits.PayloadMax)
            throw new ArgumentException($"xenstore {type} {path}: payload of {payloadLength} bytes exceeds XENSTORE_PAYLOAD_MAX ({XenStoreLimits.PayloadMax})");
        return payloadLength;
    }

    /// <summary>
    /// Sends one request: <paramref name="first"/> NUL-terminated, then <paramref name="second"/> (NUL-terminated
    /// unless <paramref name="valueTerminated"/> is false), and waits for the reply with its req_id. In a
    /// transaction it goes on the transaction's connection, and fails if that one is lost.
    /// </summary>
    private async Task<XenStoreReply> RequestAsync(XenStoreMessageType type, XenStoreTransaction? transaction, string? path,
        string first, string? second, CancellationToken cancellationToken, bool valueTerminated = true)
    {
        var payloadLength = PayloadLength(type, path, first, second, valueTerminated);
        cancellationToken.ThrowIfCancellationRequested();
        var (reply, _) = await SendAsync(type, transaction, first, second, valueTerminated, payloadLength, cancellationToken).ConfigureAwait(false);
        return reply;
    }

    /// <summary>
    /// Sends on the current connection, or the transaction's. A request that never reached a lost connection
    /// goes to the one replacing it (one that did fails: xenstore may have acted on it).
    /// </summary>
    /// <returns>The reply and the connection that answered it.</returns>
    private async Task<(XenStoreReply Reply, XenStoreClientConnection On)> SendAsync(XenStoreMessageType type, XenStoreTransaction? transaction, string first, string? second,
        bool valueTerminated, int payloadLength, CancellationToken cancellationToken)
    {
        while (true)
        {
            var on = transaction?.Connection ?? await CurrentConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return (await on.RequestAsync(type, transaction?.Id ?? 0, first, second, valueTerminated, payloadLength, cancellationToken).ConfigureAwait(false), on);
            }
            catch (XenStoreConnectionException e) when (e.RequestNotSent && _reconnect is not null && transaction?.Connection is null)
            {
                // Sent again below, on the next connection.
            }
        }
    }

    /// <summary>The connection to send on: the current one, or, while a lost one is being replaced, the next.</summary>
    private async Task<XenStoreClientConnection> CurrentConnectionAsync(CancellationToken cancellationToken)
    {
        Task<XenStoreClientConnection> next;
        lock (_gate)
        {
            if (_failure is not null)
                throw XenStoreClientConnection.Broken(_failure);
            if (_replaced is null)
                return _connection;
            next = _replaced.Task;
        }
        return await next.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnBroken(XenStoreClientConnection broken, Exception reason)
    {
        lock (_gate)
        {
            if (broken != _connection || _replaced is not null || _failure is not null)
                return;
            if (_reconnect is null || _callbackFailed)
            {
                // Final: a callback that threw is a defect to make loud, not to hide behind a reconnect.
                _failure = reason;
                return;
            }
            _replaced = new TaskCompletionSource<XenStoreClientConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            _reconnecting = Task.Run(ReconnectAsync);
        }
    }

    /// <summary>Opens a new connection (waiting longer after each failure), sets every held watch on it, then lets requests through.</summary>
    private async Task ReconnectAsync()
    {
        var backoff = new XenStoreBackoff();
        while (!_stopping.IsCancellationRequested)
        {
            XenStoreClientConnection? next = null;
            try
            {
                var stream = await _reconnect!(_stopping.Token).ConfigureAwait(false);
                lock (_gate)
                {
                    if (_failure is not null)
                    {
                        stream.Dispose();
                        return;
                    }
                    // Current from now on for OnBroken, but requests still wait until the watches are set.
                    next = _connection = new XenStoreClientConnection(stream, DeliverWatchEvent, OnBroken);
                }
                next.Start();
                await SetWatchesAgainAsync(next).ConfigureAwait(false);
                TaskCompletionSource<XenStoreClientConnection>? waiting;
                lock (_gate)
                {
                    waiting = _replaced;
                    _replaced = null;
                }
                Interlocked.Increment(ref _reconnects);
                waiting?.TrySetResult(next);
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // Not there yet (a restarting xenstored), or lost again while the watches were being set.
            }
            catch (Exception e)
            {
                // A defect of ours: every waiting request learns of it, rather than wait for ever.
                TaskCompletionSource<XenStoreClientConnection>? waiting;
                lock (_gate)
                {
                    _failure ??= e;
                    waiting = _replaced;
                    _replaced = null;
                }
                waiting?.TrySetException(XenStoreClientConnection.Broken(e));
                return;
            }
            if (next is not null)
                await next.DisposeAsync().ConfigureAwait(false);
            try
            {
                await Task.Delay(backoff.Next(), _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Sets every watch held on <paramref name="next"/>, pipelined; each fires its initial event there, which
    /// is how its user learns that it may have missed changes. One that xenstore refuses is dropped (counted).
    /// </summary>
    private async Task SetWatchesAgainAsync(XenStoreClientConnection next)
    {
        List<XenStoreWatchRegistration> held;
        lock (_gate)
            held = _watches.ToList();
        var requests = new List<Task<XenStoreReply>>(held.Count);
        foreach (var registration in held)
        {
            var payloadLength = PayloadLength(XenStoreMessageType.Watch, registration.Path, registration.Path, registration.Token, valueTerminated: true);
            requests.Add(next.RequestAsync(XenStoreMessageType.Watch, 0, registration.Path, registration.Token, true, payloadLength, _stopping.Token));
        }
        for (var i = 0; i < held.Count; i++)
        {
            var registration = held[i];
            var reply = await requests[i].ConfigureAwait(false);
            bool unwatched;
            lock (_gate)
            {
                if (reply.Type == XenStoreMessageType.Error)
                {
                    _watches.Remove(registration);
                    Interlocked.Increment(ref _watchesLost);
                    continue;
                }
                registration.Connection = next;
                unwatched = !_watches.Contains(registration);
            }
            // Disposed by its user while it was being set again.
            if (unwatched)
                await UnwatchOnAsync(next, registration).ConfigureAwait(false);
        }
    }

    private void DeliverWatchEvent(ReadOnlySpan<byte> payload)
    {
        var pathEnd = payload.IndexOf((byte)0);
        if (pathEnd < 0)
            throw new XenStoreConnectionException("xenstore sent a WATCH_EVENT without a NUL-terminated path");
        var rest = payload[(pathEnd + 1)..];
        var tokenEnd = rest.IndexOf((byte)0);
        var watchEvent = new XenStoreWatchEvent(
            Encoding.UTF8.GetString(payload[..pathEnd]),
            Encoding.UTF8.GetString(tokenEnd < 0 ? rest : rest[..tokenEnd]));
        XenStoreWatchRegistration? single = null;
        List<XenStoreWatchRegistration>? several = null;
        lock (_gate)
            _watches.Collect(watchEvent, ref single, ref several);
        // Called outside the lock, on the reader: a callback must not block, and one that throws breaks the client.
        if (several is not null)
        {
            foreach (var registration in several)
                Invoke(registration, watchEvent);
        }
        else if (single is not null)
        {
            Invoke(single, watchEvent);
        }
    }

    private void Invoke(XenStoreWatchRegistration registration, XenStoreWatchEvent watchEvent)
    {
        try
        {
            registration.OnEvent(watchEvent);
        }
        catch (Exception e)
        {
            lock (_gate)
                _callbackFailed = true;
            throw new XenStoreConnectionException($"the callback of the xenstore watch on {registration.Path} threw on an event for {watchEvent.Path}", e);
        }
    }

    private static bool IsError(XenStoreReply reply, string name) =>
        reply.Type == XenStoreMessageType.Error && ErrorName(reply.Payload) == name;

    private static string ErrorName(byte[] payload) => Encoding.UTF8.GetString(payload).TrimEnd('\0');

    /// <summary>The reply's payload when it answers <paramref name="type"/>; an ERROR reply becomes <see cref="XenStoreErrorException"/>.</summary>
    private static byte[] Expect(XenStoreReply reply, XenStoreMessageType type, string? path)
    {
        if (reply.Type == XenStoreMessageType.Error)
            throw new XenStoreErrorException(ErrorName(reply.Payload), type, path);
        if (reply.Type != type)
            throw new XenStoreConnectionException($"xenstore answered {type} {path} with a {reply.Type} message");
        return reply.Payload;
    }

    /// <summary>NUL-terminated strings; a missing final NUL is tolerated (the last string ends with the payload).</summary>
    private static List<string> SplitStrings(ReadOnlySpan<byte> payload)
    {
        var strings = new List<string>();
        while (payload.Length > 0)
        {
            var end = payload.IndexOf((byte)0);
            if (end < 0)
            {
                strings.Add(Encoding.UTF8.GetString(payload));
                break;
            }
            strings.Add(Encoding.UTF8.GetString(payload[..end]));
            payload = payload[(end + 1)..];
        }
        return strings;
    }
}
