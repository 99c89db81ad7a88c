using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Backend.Xen.XenStore;

/// <summary>
/// An xs_wire client over a byte stream: a Unix socket to xenstored (or SIMXEN's server), or an unbuffered
/// stream on Linux's <c>/dev/xen/xenbus</c>. Each message goes out in exactly one Write call (xenbus takes
/// one message per write); reads may return any amount. Requests are pipelined and matched to replies by
/// req_id, and go out in the order of the calls (the write lock hands over first come, first served), so
/// requests issued without awaiting each other still reach xenstore in program order. One reader loop
/// completes them and delivers watch events. When the connection breaks, every pending and later request
/// fails with <see cref="XenStoreConnectionException"/>.
/// </summary>
public sealed class XenStoreClient : IXenStore
{
    private const int ReceiveBufferSize = 64 * 1024;
    private const int MaxDirectoryPartRestarts = 8;

    private readonly Stream stream;
    private readonly SemaphoreSlim writeLock = new(1, 1);
    private readonly object gate = new();
    private readonly Dictionary<uint, TaskCompletionSource<XenStoreReply>> pending = [];
    private readonly XenStoreWatchIndex watches = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Task readLoop;
    private uint lastRequestId;
    private Exception? failure;
    private int disposed;

    /// <param name="stream">Owned by the client from now on; disposed with it.</param>
    public XenStoreClient(Stream stream)
    {
        this.stream = stream;
        readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>Connects to a xenstored Unix socket (SIMXEN: <c>ROOT/xenstored.sock</c>).</summary>
    public static async Task<XenStoreClient> ConnectAsync(string socketPath, CancellationToken cancellationToken = default)
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
        return new XenStoreClient(new NetworkStream(socket, ownsSocket: true));
    }

    public async Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.Read, transaction, path, path, null, cancellationToken).ConfigureAwait(false);
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
        var registration = new XenStoreWatchRegistration(this, path, token, onEvent);
        // Registered before the request, so that the initial event (sent right after the reply) finds it.
        lock (gate)
            watches.Add(registration);
        try
        {
            var reply = await RequestAsync(XenStoreMessageType.Watch, null, path, path, token, cancellationToken).ConfigureAwait(false);
            Expect(reply, XenStoreMessageType.Watch, path);
        }
        catch
        {
            lock (gate)
                watches.Remove(registration);
            throw;
        }
        return registration;
    }

    /// <summary>Removes a watch: no more events to its callback, then UNWATCH (skipped once the connection is gone).</summary>
    internal async Task UnwatchAsync(XenStoreWatchRegistration registration)
    {
        lock (gate)
        {
            if (!watches.Remove(registration) || failure is not null)
                return;
        }
        try
        {
            var reply = await RequestAsync(XenStoreMessageType.Unwatch, null, registration.Path, registration.Path, registration.Token, CancellationToken.None).ConfigureAwait(false);
            Expect(reply, XenStoreMessageType.Unwatch, registration.Path);
        }
        catch (Exception e) when (e is XenStoreConnectionException or ObjectDisposedException)
        {
            // The connection went away meanwhile, and its watches with it.
        }
    }

    public async Task<XenStoreTransaction> StartTransactionAsync(CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync(XenStoreMessageType.TransactionStart, null, null, "", null, cancellationToken).ConfigureAwait(false);
        var payload = Expect(reply, XenStoreMessageType.TransactionStart, null);
        var text = Encoding.UTF8.GetString(payload).TrimEnd('\0');
        if (!uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id == 0)
            throw new XenStoreConnectionException($"xenstore TRANSACTION_START: malformed transaction id \"{text}\"");
        return new XenStoreTransaction(id);
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
        lock (gate)
            watches.Clear();
        var reply = await RequestAsync(XenStoreMessageType.ResetWatches, null, null, "", null, cancellationToken).ConfigureAwait(false);
        Expect(reply, XenStoreMessageType.ResetWatches, null);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        Fail(new ObjectDisposedException(nameof(XenStoreClient)));
        stopping.Cancel();
        await stream.DisposeAsync().ConfigureAwait(false);
        await readLoop.ConfigureAwait(false);
        stopping.Dispose();
        writeLock.Dispose();
    }

    /// <summary>
    /// Sends one request: <paramref name="first"/> NUL-terminated, then <paramref name="second"/> (NUL-terminated
    /// unless <paramref name="valueTerminated"/> is false), and waits for the reply with its req_id.
    /// </summary>
    private async Task<XenStoreReply> RequestAsync(XenStoreMessageType type, XenStoreTransaction? transaction, string? path,
        string first, string? second, CancellationToken cancellationToken, bool valueTerminated = true)
    {
        if (path is not null && !XenStorePath.IsValid(path, allowSpecial: type is XenStoreMessageType.Watch or XenStoreMessageType.Unwatch))
            throw new ArgumentException($"\"{path}\" is not a valid xenstore path", nameof(path));
        var payloadLength = Encoding.UTF8.GetByteCount(first) + 1;
        if (second is not null)
            payloadLength += Encoding.UTF8.GetByteCount(second) + (valueTerminated ? 1 : 0);
        if (payloadLength > XenStoreLimits.PayloadMax)
            throw new ArgumentException($"xenstore {type} {path}: payload of {payloadLength} bytes exceeds XENSTORE_PAYLOAD_MAX ({XenStoreLimits.PayloadMax})");
        cancellationToken.ThrowIfCancellationRequested();

        var completion = new TaskCompletionSource<XenStoreReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        uint requestId;
        lock (gate)
        {
            if (failure is not null)
                throw Broken();
            do
                requestId = ++lastRequestId;
            while (requestId == 0 || pending.ContainsKey(requestId));
            pending.Add(requestId, completion);
        }

        var total = XenStoreMessageHeader.Size + payloadLength;
        var message = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            new XenStoreMessageHeader(type, requestId, transaction?.Id ?? 0, (uint)payloadLength).Write(message);
            var at = XenStoreMessageHeader.Size;
            at += Encoding.UTF8.GetBytes(first, message.AsSpan(at));
            message[at++] = 0;
            if (second is not null)
            {
                at += Encoding.UTF8.GetBytes(second, message.AsSpan(at));
                if (valueTerminated)
                    message[at] = 0;
            }
            await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // Never cancelled half-way: a partial message would break the framing for every request.
                await stream.WriteAsync(message.AsMemory(0, total), CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                writeLock.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            lock (gate)
                pending.Remove(requestId);
            throw;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            Fail(new XenStoreConnectionException("xenstore: writing a request failed", e));
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
            lock (gate)
                pending.Remove(requestId);
            throw;
        }
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
                var read = await stream.ReadAsync(buffer.AsMemory(end), stopping.Token).ConfigureAwait(false);
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
            DeliverWatchEvent(payload);
            return;
        }
        TaskCompletionSource<XenStoreReply>? completion;
        lock (gate)
        {
            if (!pending.Remove(header.RequestId, out completion))
                return; // A cancelled request's reply.
        }
        completion.TrySetResult(new XenStoreReply(header.Type, payload.ToArray()));
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
        lock (gate)
            watches.Collect(watchEvent, ref single, ref several);
        // Called outside the lock, on the reader: a callback must not block, and one that throws breaks the connection.
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

    private static void Invoke(XenStoreWatchRegistration registration, XenStoreWatchEvent watchEvent)
    {
        try
        {
            registration.OnEvent(watchEvent);
        }
        catch (Exception e)
        {
            throw new XenStoreConnectionException($"the callback of the xenstore watch on {registration.Path} threw on an event for {watchEvent.Path}", e);
        }
    }

    private void Fail(Exception reason)
    {
        List<TaskCompletionSource<XenStoreReply>> broken;
        lock (gate)
        {
            if (failure is not null)
                return;
            failure = reason;
            broken = [.. pending.Values];
            pending.Clear();
        }
        foreach (var completion in broken)
            completion.TrySetException(Broken());
    }

    private Exception Broken() => failure is ObjectDisposedException disposedException
        ? new ObjectDisposedException(nameof(XenStoreClient), disposedException)
        : new XenStoreConnectionException("xenstore connection is broken: " + failure!.Message, failure);

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
