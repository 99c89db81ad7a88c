using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Backend.Xen.XenStore.Server;

/// <summary>
/// The embedded xenstore server of SIMXEN: xs_wire over a Unix stream socket, an in-memory tree, watches and
/// transactions as Xen's docs/misc/xenstore.txt defines them. Requests of all clients are processed one at
/// a time under one lock (each is short and does no I/O); sockets are served asynchronously. Whatever a
/// client sends, it gets an ERROR reply or its connection closed; other clients never notice.
/// </summary>
public sealed class XenStoreServer : IAsyncDisposable
{
    private static readonly Encoding Latin1 = Encoding.Latin1;
    private static readonly byte[] Ok = "OK\0"u8.ToArray();

    private readonly object _gate = new();
    private readonly XenStoreTree _tree;
    private readonly XenStoreServerOptions _options;
    private readonly XenStoreAcceptHooks _acceptHooks;
    // Null for a detached server (CreateDetached): no socket, requests handed to Process by the caller.
    private readonly Socket? _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<XenStoreServerConnection> _connections = [];
    private readonly List<Task> _connectionTasks = [];
    private readonly Dictionary<string, List<XenStoreServerWatch>> _watchesByPath = new(StringComparer.Ordinal);
    private readonly List<XenStoreChange> _changes = [];
    private readonly List<string> _arguments = [];
    private readonly byte[] _reply = new byte[XenStoreMessageHeader.Size + XenStoreLimits.PayloadMax];
    private XenStoreServerWatch? _initialEvent;
    private Task _acceptLoop = Task.CompletedTask;
    private uint _nextTransactionId;
    private long _connectionsAccepted;
    private long _protocolViolations;
    private long _slowClientsDropped;
    private long _requestsProcessed;
    private long _connectionFaults;
    private long _connectionsRefused;
    private long _quotaRefusals;
    private long _watchEventsCoalesced;
    private long _acceptFailures;
    private int _disposed;

    private XenStoreServer(string socketPath, Socket? listener, XenStoreServerOptions options, XenStoreAcceptHooks acceptHooks)
    {
        SocketPath = socketPath;
        _listener = listener;
        _options = options;
        _acceptHooks = acceptHooks;
        _tree = new XenStoreTree(options);
    }

    public string SocketPath { get; }

    public XenStoreServerStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                return new XenStoreServerStatistics(_connections.Count, _connectionsAccepted, _protocolViolations,
                    _slowClientsDropped, _connectionFaults, _requestsProcessed, _tree.NodeCount, _connectionsRefused, _quotaRefusals,
                    Interlocked.Read(ref _watchEventsCoalesced), Interlocked.Read(ref _acceptFailures));
            }
        }
    }

    /// <summary>
    /// Listens on <paramref name="socketPath"/> (mode 0600). A socket file nobody answers on is stale and is
    /// replaced; a path where a server answers is an error, so two servers never share one tree's name.
    /// </summary>
    public static Task<XenStoreServer> StartAsync(string socketPath, XenStoreServerOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(socketPath, options, XenStoreAcceptHooks.Default, cancellationToken);

    internal static async Task<XenStoreServer> StartAsync(string socketPath, XenStoreServerOptions? options, XenStoreAcceptHooks acceptHooks, CancellationToken cancellationToken = default)
    {
        options ??= new XenStoreServerOptions();
        options.Validate();
        if (File.Exists(socketPath) || Directory.Exists(socketPath))
            await RemoveStaleSocketAsync(socketPath, cancellationToken).ConfigureAwait(false);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        var server = new XenStoreServer(socketPath, listener, options, acceptHooks);
        // On the thread pool: the caller is not to run the loop's first turns (or a burst of failed accepts) inline.
        server._acceptLoop = Task.Run(server.AcceptLoopAsync);
        return server;
    }

    /// <summary>
    /// A server with no socket: the caller opens connections with <see cref="ConnectDetached"/>, hands them
    /// requests with <see cref="Process"/> and takes their replies with
    /// <see cref="XenStoreServerConnection.TryTakeOutbound"/>, all on its own thread. The same dispatch, tree,
    /// quotas and watches as on a socket, without the socket's timing: what the fuzz target drives, one
    /// request at a time, deterministically.
    /// </summary>
    internal static XenStoreServer CreateDetached(XenStoreServerOptions? options = null)
    {
        options ??= new XenStoreServerOptions();
        options.Validate();
        return new XenStoreServer("", null, options, XenStoreAcceptHooks.Default);
    }

    /// <summary>A connection of a detached server (null when <see cref="XenStoreServerOptions.MaxConnections"/> are open, as the accept loop refuses one).</summary>
    internal XenStoreServerConnection? ConnectDetached()
    {
        lock (_gate)
        {
            if (_connections.Count >= _options.MaxConnections)
            {
                _connectionsRefused++;
                return null;
            }
            var connection = new XenStoreServerConnection(this, null, _options.MaxQueuedBytesPerConnection);
            _connections.Add(connection);
            _connectionsAccepted++;
            return connection;
        }
    }

    /// <summary>Ends a detached connection as its socket's end would: closed, its transactions aborted, its watches removed.</summary>
    internal void DisconnectDetached(XenStoreServerConnection connection)
    {
        connection.Close();
        Forget(connection);
    }

    /// <summary>The tree, for checks of its invariants (the fuzz target); touch it only between requests.</summary>
    internal XenStoreTree Tree => _tree;

    internal XenStoreServerOptions Options => _options;

    /// <summary>Watches in the index by path, for checks that it holds exactly the open connections' watches.</summary>
    internal int IndexedWatches
    {
        get
        {
            lock (_gate)
            {
                var count = 0;
                foreach (var list in _watchesByPath.Values)
                    count += list.Count;
                return count;
            }
        }
    }

    private static async Task RemoveStaleSocketAsync(string socketPath, CancellationToken cancellationToken)
    {
        if (Directory.Exists(socketPath))
            throw new IOException($"xenstore socket path {socketPath} is a directory");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(socketPath);
            return;
        }
        throw new IOException($"a xenstore server already answers on {socketPath}");
    }

    private async Task AcceptLoopAsync()
    {
        var backoff = new XenStoreBackoff();
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _acceptHooks.Accept(_listener!, _stopping.Token).ConfigureAwait(false);
                backoff.Reset();
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                // A client that gave up while queued: nothing is short, serve the next one.
                continue;
            }
            catch (SocketException)
            {
                // Out of descriptors or buffers (EMFILE, ENFILE, ENOBUFS): the listener stays readable, so trying
                // again at once would spin a core until a descriptor is freed. Wait, longer each time.
                Interlocked.Increment(ref _acceptFailures);
                try
                {
                    await _acceptHooks.Delay(backoff.Next(), _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            lock (_gate)
            {
                if (_stopping.IsCancellationRequested)
                {
                    socket.Dispose();
                    return;
                }
                if (_connections.Count >= _options.MaxConnections)
                {
                    // Accepted only to be closed: a client left waiting in the backlog would not learn why.
                    _connectionsRefused++;
                    socket.Dispose();
                    continue;
                }
                var connection = new XenStoreServerConnection(this, socket, _options.MaxQueuedBytesPerConnection);
                _connections.Add(connection);
                _connectionsAccepted++;
                _connectionTasks.RemoveAll(t => t.IsCompleted);
                _connectionTasks.Add(Task.Run(connection.RunAsync));
            }
        }
    }

    /// <summary>Stops accepting (removing the socket file), closes every connection and aborts their transactions.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stopping.Cancel();
        // Closing the listener unlinks the socket file .NET bound; deleting by name later could remove the
        // socket of a server started there since.
        _listener?.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        Task[] running;
        lock (_gate)
        {
            foreach (var connection in _connections)
                connection.Close();
            running = [.. _connectionTasks];
        }
        await Task.WhenAll(running).ConfigureAwait(false);
        _stopping.Dispose();
    }

    internal void CountProtocolViolation() => Interlocked.Increment(ref _protocolViolations);

    internal void CountSlowClient() => Interlocked.Increment(ref _slowClientsDropped);

    internal void CountConnectionFault() => Interlocked.Increment(ref _connectionFaults);

    internal void CountCoalescedWatchEvent() => Interlocked.Increment(ref _watchEventsCoalesced);

    /// <summary>
    /// Closes every connection, as clients of a xenstored that restarts find theirs gone, and goes on taking
    /// new ones at once with the tree as it was (a restart that restores its state, as Xen's live update
    /// does; SIMXEN's <c>xenstored</c> keeps no state across a real one). Each connection's transactions
    /// are aborted and its watches removed: a client that comes back sets them again.
    /// </summary>
    /// <returns>How many were closed.</returns>
    public int DropEveryConnection()
    {
        lock (_gate)
        {
            foreach (var connection in _connections)
                connection.Close();
            return _connections.Count;
        }
    }

    /// <summary>
    /// Drops every connection that watches <paramref name="path"/>, as the server drops a slow client: for
    /// tests of what a client does when the server goes away under it.
    /// </summary>
    /// <returns>How many were dropped.</returns>
    internal int DropConnectionsWatching(string path)
    {
        var dropped = 0;
        lock (_gate)
        {
            foreach (var connection in _connections)
            {
                foreach (var watch in connection.Watches.Values)
                {
                    if (watch.Path != path)
                        continue;
                    connection.Close();
                    dropped++;
                    break;
                }
            }
        }
        return dropped;
    }

    /// <summary>A connection has ended: its transactions are aborted and its watches removed.</summary>
    internal void Forget(XenStoreServerConnection connection)
    {
        lock (_gate)
        {
            _connections.Remove(connection);
            ResetConnection(connection);
        }
    }

    /// <summary>Aborts the connection's transactions and removes its watches (RESET_WATCHES, or the connection gone).</summary>
    private void ResetConnection(XenStoreServerConnection connection)
    {
        foreach (var transaction in connection.Transactions.Values)
            _tree.End(transaction);
        connection.Transactions.Clear();
        foreach (var watch in connection.Watches.Values)
            RemoveWatch(watch);
        connection.Watches.Clear();
    }

    /// <summary>Processes one framed request (payload at most XENSTORE_PAYLOAD_MAX) and queues its reply.</summary>
    internal void Process(XenStoreServerConnection connection, XenStoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        lock (_gate)
        {
            if (connection.IsClosing)
                return;
            _requestsProcessed++;
            _changes.Clear();
            var length = 0;
            var error = Dispatch(connection, header, payload, ref length);
            if (error == XenStoreErrors.ENOSPC)
                _quotaRefusals++;
            // Watch events go out before the reply, as xenstored: a client has seen the events of its own
            // change by the time it sees the change acknowledged.
            foreach (var change in _changes)
                Fire(change);
            if (error is not null)
            {
                length = Latin1.GetBytes(error, _reply.AsSpan(XenStoreMessageHeader.Size));
                _reply[XenStoreMessageHeader.Size + length++] = 0;
                header = header with { Type = XenStoreMessageType.Error };
            }
            Send(connection, header with { Length = (uint)length }, _reply.AsSpan(XenStoreMessageHeader.Size, length));
            if (_initialEvent is not null)
            {
                // xenstored fires every new watch once, after its reply, so a client needs no separate first read.
                SendEvent(_initialEvent, _initialEvent.Path);
                _initialEvent = null;
            }
        }
    }

    /// <returns>An error name, or null when the reply payload is in <see cref="reply"/> after the header, <paramref name="length"/> bytes.</returns>
    private string? Dispatch(XenStoreServerConnection connection, XenStoreMessageHeader header, ReadOnlySpan<byte> payload, ref int length)
    {
        var type = header.Type;
        XenStoreTreeTransaction? transaction = null;
        if (header.TransactionId != 0 && type is not (XenStoreMessageType.Watch or XenStoreMessageType.Unwatch
                or XenStoreMessageType.GetDomainPath or XenStoreMessageType.ResetWatches or XenStoreMessageType.TransactionStart))
        {
            if (!connection.Transactions.TryGetValue(header.TransactionId, out transaction))
                return XenStoreErrors.ENOENT;
            // What a transaction holds (its overlay, what it looked at, its changes) grows with its requests:
            // they are counted and their bytes charged until it ends.
            if (type != XenStoreMessageType.TransactionEnd && _tree.ChargeRequest(transaction, payload.Length) is { } refused)
                return refused;
        }
        var account = connection.Account;
        var output = _reply.AsSpan(XenStoreMessageHeader.Size);
        switch (type)
        {
            case XenStoreMessageType.Read:
            {
                if (!TryPathArgument(payload, out var path))
                    return XenStoreErrors.EINVAL;
                var error = _tree.Read(path, transaction, out var value);
                if (error is not null)
                    return error;
                value.CopyTo(output);
                length = value.Length;
                return null;
            }
            case XenStoreMessageType.Write:
            {
                var end = payload.IndexOf((byte)0);
                if (end < 0)
                    return XenStoreErrors.EINVAL;
                var path = Latin1.GetString(payload[..end]);
                if (!XenStorePath.IsValid(path, allowSpecial: false))
                    return XenStoreErrors.EINVAL;
                // The quota is checked before the value is copied.
                if (payload.Length - end - 1 > _options.MaxValueSize)
                    return XenStoreErrors.ENOSPC;
                return Ack(_tree.Write(path, payload[(end + 1)..].ToArray(), transaction, _changes, account), ref length);
            }
            case XenStoreMessageType.Mkdir:
                return TryPathArgument(payload, out var mkdirPath)
                    ? Ack(_tree.Mkdir(mkdirPath, transaction, _changes, account), ref length)
                    : XenStoreErrors.EINVAL;
            case XenStoreMessageType.Rm:
                return TryPathArgument(payload, out var rmPath)
                    ? Ack(_tree.Remove(rmPath, transaction, _changes), ref length)
                    : XenStoreErrors.EINVAL;
            case XenStoreMessageType.Directory:
            {
                if (!TryPathArgument(payload, out var path))
                    return XenStoreErrors.EINVAL;
                var error = _tree.Directory(path, transaction, out var children);
                if (error is not null)
                    return error;
                foreach (var child in children)
                {
                    // Too long for one reply: clients fall back to DIRECTORY_PART, as with xenstored.
                    if (!TryAppend(output, ref length, child))
                        return XenStoreErrors.E2BIG;
                }
                return null;
            }
            case XenStoreMessageType.DirectoryPart:
                return DirectoryPart(payload, transaction, output, ref length);
            case XenStoreMessageType.GetPerms:
            {
                if (!TryPathArgument(payload, out var path))
                    return XenStoreErrors.EINVAL;
                var error = _tree.GetPermissions(path, transaction, out var permissions);
                if (error is not null)
                    return error;
                foreach (var permission in permissions)
                {
                    if (!TryAppend(output, ref length, permission))
                        return XenStoreErrors.E2BIG;
                }
                return null;
            }
            case XenStoreMessageType.SetPerms:
            {
                if (!TrySplit(payload) || _arguments.Count < 2 || !XenStorePath.IsValid(_arguments[0], allowSpecial: false))
                    return XenStoreErrors.EINVAL;
                if (_arguments.Count - 1 > _options.MaxPermissionsPerNode)
                    return XenStoreErrors.ENOSPC;
                var permissions = ImmutableArray.CreateBuilder<string>(_arguments.Count - 1);
                for (var i = 1; i < _arguments.Count; i++)
                {
                    if (!XenStorePermission.IsValid(_arguments[i]))
                        return XenStoreErrors.EINVAL;
                    permissions.Add(_arguments[i]);
                }
                return Ack(_tree.SetPermissions(_arguments[0], permissions.MoveToImmutable(), transaction, _changes), ref length);
            }
            case XenStoreMessageType.Watch:
                return Watch(connection, payload, ref length);
            case XenStoreMessageType.Unwatch:
                return Unwatch(connection, payload, ref length);
            case XenStoreMessageType.ResetWatches:
                ResetConnection(connection);
                return Ack(null, ref length);
            case XenStoreMessageType.TransactionStart:
            {
                if (header.TransactionId != 0)
                    return XenStoreErrors.EBUSY;
                if (connection.Transactions.Count >= _options.MaxTransactionsPerConnection)
                    return XenStoreErrors.ENOSPC;
                uint id;
                do
                    id = ++_nextTransactionId;
                while (id == 0 || connection.Transactions.ContainsKey(id));
                connection.Transactions.Add(id, new XenStoreTreeTransaction(id, account));
                TryAppend(output, ref length, id.ToString(CultureInfo.InvariantCulture));
                return null;
            }
            case XenStoreMessageType.TransactionEnd:
            {
                if (transaction is null)
                    return XenStoreErrors.ENOENT;
                if (!TryOneArgument(payload, out var commit) || commit is not ("T" or "F"))
                    return XenStoreErrors.EINVAL;
                connection.Transactions.Remove(transaction.Id);
                _tree.End(transaction);
                if (commit == "T" && _tree.TryCommit(transaction, _changes) is { } commitRefused)
                    return commitRefused;
                return Ack(null, ref length);
            }
            case XenStoreMessageType.GetDomainPath:
            {
                if (!TryOneArgument(payload, out var domid) || !TryParseDomid(domid, out var id))
                    return XenStoreErrors.EINVAL;
                TryAppend(output, ref length, "/local/domain/" + id.ToString(CultureInfo.InvariantCulture));
                return null;
            }
            default:
                // Domain introduction and the rest have no meaning in the simulation; unknown types are ENOSYS in xenstored too.
                return XenStoreErrors.ENOSYS;
        }
    }

    private string? DirectoryPart(ReadOnlySpan<byte> payload, XenStoreTreeTransaction? transaction, Span<byte> output, ref int length)
    {
        // As xenstored's send_directory_part: the node's generation, then whole child names from a byte offset
        // into the NUL-separated list, then an empty string once the list's end is reached.
        if (!TrySplit(payload) || _arguments.Count != 2 || !XenStorePath.IsValid(_arguments[0], allowSpecial: false)
            || !int.TryParse(_arguments[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            return XenStoreErrors.EINVAL;
        var node = _tree.Get(_arguments[0], transaction);
        if (node is null)
            return XenStoreErrors.ENOENT;
        TryAppend(output, ref length, node.Generation.ToString(CultureInfo.InvariantCulture));
        var position = 0;
        foreach (var child in node.Children)
        {
            var size = child.Length + 1;
            if (position >= offset)
            {
                // Leave room for the final empty string.
                if (length + size + 1 > output.Length)
                    return null;
                TryAppend(output, ref length, child);
            }
            position += size;
        }
        output[length++] = 0;
        return null;
    }

    private string? Watch(XenStoreServerConnection connection, ReadOnlySpan<byte> payload, ref int length)
    {
        if (!TrySplit(payload) || _arguments.Count != 2 || !XenStorePath.IsValid(_arguments[0], allowSpecial: true))
            return XenStoreErrors.EINVAL;
        var path = _arguments[0];
        var token = _arguments[1];
        if (connection.Watches.ContainsKey((path, token)))
            return XenStoreErrors.EEXIST;
        // ENOSPC, as C xenstored answers its watch quota now (it answered E2BIG before its quotas were reworked).
        if (connection.Watches.Count >= _options.MaxWatchesPerConnection)
            return XenStoreErrors.ENOSPC;
        long bytes = path.Length + token.Length;
        if (_tree.CheckQuota(connection.Account, 0, bytes, 0, 0) is { } refused)
            return refused;
        var watch = new XenStoreServerWatch(connection, path, token);
        connection.Watches.Add((path, token), watch);
        connection.Account.Bytes += bytes;
        if (!_watchesByPath.TryGetValue(path, out var list))
            _watchesByPath.Add(path, list = []);
        list.Add(watch);
        _initialEvent = watch;
        return Ack(null, ref length);
    }

    private string? Unwatch(XenStoreServerConnection connection, ReadOnlySpan<byte> payload, ref int length)
    {
        if (!TrySplit(payload) || _arguments.Count != 2 || !XenStorePath.IsValid(_arguments[0], allowSpecial: true))
            return XenStoreErrors.EINVAL;
        if (!connection.Watches.Remove((_arguments[0], _arguments[1]), out var watch))
            return XenStoreErrors.ENOENT;
        RemoveWatch(watch);
        return Ack(null, ref length);
    }

    /// <summary>Takes the watch out of the index by path and gives its bytes back (the caller removes it from its connection).</summary>
    private void RemoveWatch(XenStoreServerWatch watch)
    {
        watch.Connection.Account.Bytes -= watch.Path.Length + watch.Token.Length;
        if (_watchesByPath.TryGetValue(watch.Path, out var list))
        {
            list.Remove(watch);
            if (list.Count == 0)
                _watchesByPath.Remove(watch.Path);
        }
    }

    /// <summary>
    /// Fires the watches a change concerns: those on the node or any ancestor (with the node's path), and,
    /// when a subtree went away, those below it (with their own path), as xenstored does on RM.
    /// </summary>
    private void Fire(XenStoreChange change)
    {
        var path = change.Path;
        for (var ancestor = path; ; ancestor = XenStorePath.Parent(ancestor))
        {
            if (_watchesByPath.TryGetValue(ancestor, out var list))
            {
                foreach (var watch in list)
                    SendEvent(watch, path);
            }
            if (ancestor == "/")
                break;
        }
        if (!change.Removed)
            return;
        foreach (var (watchPath, list) in _watchesByPath)
        {
            if (watchPath.Length > path.Length && XenStorePath.IsAtOrBelow(watchPath, path))
            {
                foreach (var watch in list)
                    SendEvent(watch, watchPath);
            }
        }
    }

    private void SendEvent(XenStoreServerWatch watch, string path)
    {
        if (watch.Connection.IsClosing)
            return;
        // As C xenstored: an event the client has not been sent yet tells it all that an identical one
        // would, so a node rewritten in a loop costs a slow reader one queued event, not one per write.
        // Special paths are left out (their watchers may count the events), as there.
        if (!XenStorePath.IsSpecial(path) && !watch.Connection.TryReserveWatchEvent(path, watch.Token))
        {
            CountCoalescedWatchEvent();
            return;
        }
        var payloadLength = Latin1.GetByteCount(path) + 1 + Latin1.GetByteCount(watch.Token) + 1;
        var total = XenStoreMessageHeader.Size + payloadLength;
        var buffer = ArrayPool<byte>.Shared.Rent(total);
        new XenStoreMessageHeader(XenStoreMessageType.WatchEvent, 0, 0, (uint)payloadLength).Write(buffer);
        var at = XenStoreMessageHeader.Size;
        at += Latin1.GetBytes(path, buffer.AsSpan(at));
        buffer[at++] = 0;
        at += Latin1.GetBytes(watch.Token, buffer.AsSpan(at));
        buffer[at] = 0;
        watch.Connection.Enqueue(new OutboundMessage(buffer, total, XenStorePath.IsSpecial(path) ? null : (path, watch.Token)));
    }

    private static void Send(XenStoreServerConnection connection, XenStoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        var total = XenStoreMessageHeader.Size + payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(total);
        header.Write(buffer);
        payload.CopyTo(buffer.AsSpan(XenStoreMessageHeader.Size));
        connection.Enqueue(new OutboundMessage(buffer, total));
    }

    private string? Ack(string? error, ref int length)
    {
        if (error is not null)
            return error;
        Ok.CopyTo(_reply.AsSpan(XenStoreMessageHeader.Size));
        length = Ok.Length;
        return null;
    }

    private static bool TryAppend(Span<byte> output, ref int length, string value)
    {
        if (length + value.Length + 1 > output.Length)
            return false;
        length += Latin1.GetBytes(value, output[length..]);
        output[length++] = 0;
        return true;
    }

    /// <summary>Exactly one NUL-terminated string, as xenstored's <c>onearg</c>.</summary>
    private static bool TryOneArgument(ReadOnlySpan<byte> payload, out string value)
    {
        value = "";
        if (payload.Length == 0 || payload.IndexOf((byte)0) != payload.Length - 1)
            return false;
        value = Latin1.GetString(payload[..^1]);
        return true;
    }

    private static bool TryPathArgument(ReadOnlySpan<byte> payload, out string path) =>
        TryOneArgument(payload, out path) && XenStorePath.IsValid(path, allowSpecial: false);

    /// <summary>NUL-terminated strings into <see cref="arguments"/>; false when the payload does not end in NUL.</summary>
    private bool TrySplit(ReadOnlySpan<byte> payload)
    {
        _arguments.Clear();
        if (payload.Length == 0 || payload[^1] != 0)
            return false;
        while (payload.Length > 0)
        {
            var end = payload.IndexOf((byte)0);
            _arguments.Add(Latin1.GetString(payload[..end]));
            payload = payload[(end + 1)..];
        }
        return true;
    }

    private static bool TryParseDomid(string text, out ushort domid) =>
        ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out domid);
}
