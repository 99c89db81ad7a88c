using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Fuzz.XenStore;

/// <summary>
/// The embedded xenstore server's dispatch, tree, transactions, watches and quotas, with connections
/// (three, one more than the server admits) sending messages the input spells: well-formed requests on
/// paths from a small vocabulary (so that they meet), mangled ones, raw headers and payloads through the
/// wire codec, and connections that go away. Small quotas, so that the fuzzer meets them. The server runs
/// detached from any socket (<see cref="XenStoreServer.CreateDetached"/>): the same code, deterministic.
/// </summary>
/// <remarks>
/// Invariants after every request: the requester gets exactly one reply, with its request and transaction
/// ids, of its own type or ERROR with a known error name, and the others only watch events, all well
/// formed; a refused request, and any request but a write outside a transaction or a commit, leaves the
/// committed tree as it was (the same nodes); the tree is a tree (each node listed by its parent, each
/// child present, once); its byte count and every connection's charges (nodes, bytes, pending nodes) are
/// what its nodes, watches and open transactions add up to; no quota is exceeded; the watch index holds
/// exactly the open connections' watches.
/// </remarks>
public sealed class XenStoreServerTarget : FuzzTarget
{
    private const int Connections = 3;
    private static readonly Encoding Latin1 = Encoding.Latin1;

    public static readonly XenStoreServerOptions Options = new()
    {
        MaxConnections = Connections - 1,
        MaxNodesPerConnection = 24,
        MaxBytesPerConnection = 1024,
        MaxNodes = 40,
        MaxBytes = 2048,
        MaxValueSize = 64,
        MaxPermissionsPerNode = 3,
        MaxWatchesPerConnection = 6,
        MaxTransactionsPerConnection = 3,
        MaxRequestsPerTransaction = 12,
        MaxQueuedBytesPerConnection = XenStoreMessageHeader.Size + XenStoreLimits.PayloadMax + 512,
    };

    private static readonly XenStoreMessageType[] Types =
    [
        XenStoreMessageType.Read, XenStoreMessageType.Write, XenStoreMessageType.Mkdir, XenStoreMessageType.Rm,
        XenStoreMessageType.Directory, XenStoreMessageType.DirectoryPart, XenStoreMessageType.GetPerms,
        XenStoreMessageType.SetPerms, XenStoreMessageType.Watch, XenStoreMessageType.Unwatch,
        XenStoreMessageType.TransactionStart, XenStoreMessageType.TransactionEnd, XenStoreMessageType.GetDomainPath,
        XenStoreMessageType.ResetWatches,
    ];

    private static readonly string[] Components = ["local", "domain", "0", "3", "backend", "vif", "state", "a", "b", "c"];
    private static readonly string[] Permissions = ["n0", "r3", "w0", "b65535", "b65536", "x1", "r", "n00003"];
    private static readonly string[] Tokens = ["t0", "t1", ""];
    private static readonly HashSet<string> ErrorNames = new(StringComparer.Ordinal)
    {
        XenStoreErrors.EINVAL, XenStoreErrors.EACCES, XenStoreErrors.EEXIST, XenStoreErrors.EISDIR, XenStoreErrors.ENOENT,
        XenStoreErrors.ENOMEM, XenStoreErrors.ENOSPC, XenStoreErrors.EIO, XenStoreErrors.ENOTEMPTY, XenStoreErrors.ENOSYS,
        XenStoreErrors.EROFS, XenStoreErrors.EBUSY, XenStoreErrors.EAGAIN, XenStoreErrors.EISCONN, XenStoreErrors.E2BIG,
        XenStoreErrors.EPERM,
    };

    private readonly byte[] _payload = new byte[XenStoreLimits.PayloadMax];
    private readonly byte[] _message = new byte[XenStoreMessageHeader.Size + XenStoreLimits.PayloadMax];
    private readonly StringBuilder _text = new();
    private readonly XenStoreServerConnection?[] _connections = new XenStoreServerConnection?[Connections];
    private readonly List<XenStoreServerConnection> _everyConnection = [];
    private readonly Dictionary<XenStoreQuotaAccount, (long Nodes, long Bytes)> _held = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, XenStoreNode> _before = new(StringComparer.Ordinal);
    private XenStoreServer _server = null!;
    private uint _requestId;

    public override string Name => "xenstore";

    /// <summary>
    /// The connections the last run's check still follows: the open ones and those gone holding nodes,
    /// so at most <see cref="Connections"/> + <c>MaxNodes</c> however often a script closes one.
    /// </summary>
    public int FollowedConnections => _everyConnection.Count;

    /// <summary>
    /// The op byte: low nibble what (below <see cref="Raw"/> a request of <see cref="Types"/>[n]), high nibble
    /// which connection (% 3). A request: a transaction byte (% 4: 0 none, 1-2 one of the connection's open
    /// transactions, 3 a raw u32), its arguments, and a mangle byte (bit 0 drops the final NUL, bit 1 adds
    /// a stray argument).
    /// </summary>
    public const int Raw = 14;

    /// <summary>The connection closes.</summary>
    public const int Close = 15;

    protected override void Execute(ReadOnlySpan<byte> input)
    {
        _server = XenStoreServer.CreateDetached(Options);
        Array.Clear(_connections);
        _everyConnection.Clear();
        _requestId = 0;
        var script = new FuzzInput(input);
        Span<byte> raw = stackalloc byte[XenStoreMessageHeader.Size];
        while (!script.IsEmpty)
        {
            var op = script.Byte();
            var slot = (op >> 4) % Connections;
            var connection = Connection(slot);
            if ((op & 15) == Close)
            {
                if (connection is not null)
                {
                    _server.DisconnectDetached(connection);
                    _connections[slot] = null;
                    CheckState(connection);
                }
                continue;
            }
            if (connection is null)
                continue; // refused (the server's connection limit): the op is dropped, the script goes on
            XenStoreMessageHeader header;
            int length;
            if ((op & 15) >= Raw)
            {
                script.Bytes(raw);
                header = XenStoreMessageHeader.Read(raw);
                if (header.Length > XenStoreLimits.PayloadMax)
                {
                    // The framing is broken: the socket's reader closes such a connection, as xenstored.
                    _server.DisconnectDetached(connection);
                    _connections[slot] = null;
                    CheckState(connection);
                    continue;
                }
                var body = script.Take((int)header.Length);
                if (body.Length < header.Length)
                    continue; // the client left mid-message: nothing is processed
                body.CopyTo(_payload);
                length = body.Length;
                CheckHeaderCodec(header);
            }
            else
            {
                var type = Types[(op & 15) % Types.Length];
                var transaction = TransactionId(connection, ref script);
                length = Spell(type, ref script);
                header = new XenStoreMessageHeader(type, ++_requestId, transaction, (uint)length);
            }
            Request(connection, header, length);
        }
        foreach (var connection in _connections)
        {
            if (connection is not null)
                _server.DisconnectDetached(connection);
        }
        CheckState(null);
        if (_server.IndexedWatches != 0 || _server.Tree.PendingNodes != 0 || _server.Tree.PendingBytes != 0)
            throw new InvariantException("connections gone, and watches or transaction charges left behind");
    }

    private XenStoreServerConnection? Connection(int slot)
    {
        if (_connections[slot] is { IsClosing: true } closed)
        {
            // Dropped by the server (a slow client): its socket would end, and the client connects again.
            _server.DisconnectDetached(closed);
            _connections[slot] = null;
        }
        if (_connections[slot] is null && _server.ConnectDetached() is { } connection)
        {
            _connections[slot] = connection;
            _everyConnection.Add(connection);
        }
        return _connections[slot];
    }

    private uint TransactionId(XenStoreServerConnection connection, ref FuzzInput script)
    {
        var mode = script.Byte();
        switch (mode % 4)
        {
            case 0:
                return 0;
            case 3:
                return script.UInt32();
            default:
                var open = connection.Transactions.Count;
                if (open == 0)
                    return 0;
                var pick = (mode >> 2) % open;
                foreach (var id in connection.Transactions.Keys)
                {
                    if (pick-- == 0)
                        return id;
                }
                return 0;
        }
    }

    /// <summary>Writes the request's payload into <see cref="payload"/>; returns its length.</summary>
    private int Spell(XenStoreMessageType type, ref FuzzInput script)
    {
        _text.Clear();
        switch (type)
        {
            case XenStoreMessageType.Write:
                AppendPath(ref script, special: false).Append('\0');
                var value = script.Take(script.Byte() % 80);
                foreach (var b in value)
                    _text.Append((char)b);
                break;
            case XenStoreMessageType.DirectoryPart:
                AppendPath(ref script, special: false).Append('\0').Append((script.UInt16() % 300).ToString(CultureInfo.InvariantCulture)).Append('\0');
                break;
            case XenStoreMessageType.SetPerms:
            {
                AppendPath(ref script, special: false).Append('\0');
                var n = script.Byte() % 5;
                for (var i = 0; i < n; i++)
                    _text.Append(Permissions[script.Byte() % Permissions.Length]).Append('\0');
                break;
            }
            case XenStoreMessageType.Watch or XenStoreMessageType.Unwatch:
                AppendPath(ref script, special: true).Append('\0').Append(Tokens[script.Byte() % Tokens.Length]).Append('\0');
                break;
            case XenStoreMessageType.TransactionStart:
                _text.Append('\0');
                break;
            case XenStoreMessageType.TransactionEnd:
                _text.Append("TFX"[script.Byte() % 3]).Append('\0');
                break;
            case XenStoreMessageType.GetDomainPath:
                _text.Append(script.UInt32().ToString(CultureInfo.InvariantCulture)).Append('\0');
                break;
            case XenStoreMessageType.ResetWatches:
                break;
            default:
                AppendPath(ref script, special: false).Append('\0');
                break;
        }
        var mangle = script.Byte();
        if ((mangle & 1) != 0 && _text.Length > 0)
            _text.Length--;
        if ((mangle & 2) != 0)
            _text.Append("x\0");
        var length = Math.Min(_text.Length, _payload.Length);
        for (var i = 0; i < length; i++)
            _payload[i] = (byte)_text[i];
        return length;
    }

    private StringBuilder AppendPath(ref FuzzInput script, bool special)
    {
        var shape = script.Byte();
        if (special && shape >= 250)
            return _text.Append(shape == 250 ? XenStorePath.IntroduceDomain : XenStorePath.ReleaseDomain);
        var depth = shape % 6;
        if (depth == 0)
            return _text.Append('/');
        for (var i = 0; i < depth; i++)
        {
            _text.Append('/');
            var c = script.Byte();
            if (c < 240)
            {
                _text.Append(Components[c % Components.Length]);
            }
            else
            {
                // A component of any bytes (invalid characters, '/', NUL, nothing at all).
                foreach (var b in script.Take(c - 240))
                    _text.Append((char)b);
            }
        }
        return _text;
    }

    private void Request(XenStoreServerConnection connection, XenStoreMessageHeader header, int length)
    {
        _before.Clear();
        foreach (var (path, node) in _server.Tree.Nodes)
            _before.Add(path, node);
        var transactions = connection.Transactions.Count;
        var watches = connection.Watches.Count;

        _server.Process(connection, header, _payload.AsSpan(0, length));

        var (type, error) = TakeReplies(connection, header);
        var treeMayChange = type == header.Type && header.TransactionId == 0 && header.Type is XenStoreMessageType.Write
                or XenStoreMessageType.Mkdir or XenStoreMessageType.Rm or XenStoreMessageType.SetPerms
            || type == XenStoreMessageType.TransactionEnd;
        if (!treeMayChange)
            CheckTreeUnchanged(header, error);
        if (type == XenStoreMessageType.Error)
        {
            // A commit refused for a conflict or a quota has still ended its transaction.
            var ended = header.Type == XenStoreMessageType.TransactionEnd && error is XenStoreErrors.EAGAIN or XenStoreErrors.ENOSPC;
            if (connection.Transactions.Count != transactions - (ended ? 1 : 0) || connection.Watches.Count != watches)
                throw new InvariantException($"a refused {header.Type} ({error}) changed the connection's transactions or watches");
        }
        CheckState(null);
    }

    /// <summary>Takes every queued message of every connection; returns the requester's reply type and error name.</summary>
    private (XenStoreMessageType? Type, string? Error) TakeReplies(XenStoreServerConnection requester, XenStoreMessageHeader request)
    {
        XenStoreMessageType? type = null;
        string? error = null;
        foreach (var connection in _connections)
        {
            if (connection is null)
                continue;
            while (connection.TryTakeOutbound(_message, out var length))
            {
                var header = XenStoreMessageHeader.Read(_message);
                var body = _message.AsSpan(XenStoreMessageHeader.Size, length - XenStoreMessageHeader.Size);
                if (header.Length != body.Length || body.Length > XenStoreLimits.PayloadMax)
                    throw new InvariantException($"a {header.Type} message of {body.Length} bytes says {header.Length}");
                if (header.Type == XenStoreMessageType.WatchEvent)
                {
                    CheckWatchEvent(body);
                    continue;
                }
                if (connection != requester || type is not null)
                    throw new InvariantException($"a second reply, or a reply to a connection that asked nothing: {header.Type}");
                if (header.RequestId != request.RequestId || header.TransactionId != request.TransactionId)
                    throw new InvariantException("a reply with another request's or transaction's id");
                if (header.Type == XenStoreMessageType.Error)
                {
                    if (body.Length < 2 || body[^1] != 0 || !ErrorNames.Contains(Latin1.GetString(body[..^1])))
                        throw new InvariantException($"an error reply \"{Latin1.GetString(body)}\"");
                    error = Latin1.GetString(body[..^1]);
                }
                else if (header.Type != request.Type)
                {
                    throw new InvariantException($"a {request.Type} answered {header.Type}");
                }
                type = header.Type;
            }
        }
        if (type is null && !requester.IsClosing)
            throw new InvariantException($"a {request.Type} got no reply");
        return (type, error);
    }

    private static void CheckWatchEvent(ReadOnlySpan<byte> body)
    {
        var end = body.IndexOf((byte)0);
        if (end < 0 || body[^1] != 0 || body[(end + 1)..^1].Contains((byte)0))
            throw new InvariantException("a watch event that is not path and token");
        var path = Latin1.GetString(body[..end]);
        if (!XenStorePath.IsValid(path, allowSpecial: true))
            throw new InvariantException($"a watch event for \"{path}\"");
    }

    private static void CheckHeaderCodec(XenStoreMessageHeader header)
    {
        Span<byte> bytes = stackalloc byte[XenStoreMessageHeader.Size];
        header.Write(bytes);
        if (XenStoreMessageHeader.Read(bytes) != header || BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]) != header.Length)
            throw new InvariantException("a header does not read back as written");
    }

    private void CheckTreeUnchanged(XenStoreMessageHeader header, string? error)
    {
        var nodes = _server.Tree.Nodes;
        var same = nodes.Count == _before.Count;
        if (same)
        {
            foreach (var (path, node) in _before)
            {
                if (!nodes.TryGetValue(path, out var now) || !ReferenceEquals(now, node))
                {
                    same = false;
                    break;
                }
            }
        }
        if (!same)
            throw new InvariantException($"a {header.Type} (transaction {header.TransactionId}, {error ?? "OK"}) changed the committed tree");
    }

    /// <summary>The tree's shape, its charges and the quotas, against what its nodes, watches and transactions add up to.</summary>
    private void CheckState(XenStoreServerConnection? gone)
    {
        var tree = _server.Tree;
        var nodes = tree.Nodes;
        if (!nodes.ContainsKey("/"))
            throw new InvariantException("the root is gone");
        long bytes = 0;
        // What each holder holds, in the same pass over the tree: counting it per connection made the check
        // O(connections ever opened × nodes) per request, the target's main cost under AFL.
        _held.Clear();
        foreach (var (path, node) in nodes)
        {
            bytes += path.Length + node.Value.Length;
            if (node.Holder is { } holder)
            {
                ref var holding = ref CollectionsMarshal.GetValueRefOrAddDefault(_held, holder, out _);
                holding.Nodes++;
                holding.Bytes += path.Length + node.Value.Length;
            }
            if (path != "/")
            {
                if (!nodes.TryGetValue(XenStorePath.Parent(path), out var parent) || !parent.Children.Contains(XenStorePath.Name(path)))
                    throw new InvariantException($"{path} is not listed by its parent");
            }
            for (var i = 0; i < node.Children.Count; i++)
            {
                var child = node.Children[i];
                if (!nodes.ContainsKey(XenStorePath.Child(path, child)) || node.Children.IndexOf(child, i + 1, node.Children.Count - i - 1, StringComparer.Ordinal) >= 0)
                    throw new InvariantException($"{path} lists {child}, which is missing or listed twice");
            }
        }
        if (bytes != tree.Bytes)
            throw new InvariantException($"the tree counts {tree.Bytes} bytes, its nodes hold {bytes}");
        if (tree.NodeCount + tree.PendingNodes > Options.MaxNodes || tree.Bytes + tree.PendingBytes > Options.MaxBytes)
            throw new InvariantException($"the tree holds {tree.NodeCount}+{tree.PendingNodes} nodes and {tree.Bytes}+{tree.PendingBytes} bytes");

        long pendingBytes = 0, pendingNodes = 0, watches = 0;
        // A connection gone whose account holds no node is checked once more here and then dropped: it can
        // never be charged again (it neither writes nor holds anything to remove), and keeping every
        // connection ever opened made this check quadratic in a script's closes. An input of 27 KB that
        // closed connections thousands of times took 34 s, past AFL's timeout, whose kill of SharpFuzz's
        // in-process fork server ended the campaign three times ("Unable to communicate with fork server").
        var kept = 0;
        for (var c = 0; c < _everyConnection.Count; c++)
        {
            var connection = _everyConnection[c];
            var open = connection != gone && Array.IndexOf(_connections, connection) >= 0;
            var account = connection.Account;
            var (heldNodes, held) = _held.GetValueOrDefault(account);
            long charged = held, pending = 0;
            if (open)
            {
                foreach (var watch in connection.Watches.Values)
                    charged += watch.Path.Length + watch.Token.Length;
                foreach (var transaction in connection.Transactions.Values)
                {
                    charged += transaction.PendingBytes;
                    pending += transaction.PendingNodes;
                    pendingBytes += transaction.PendingBytes;
                    pendingNodes += transaction.PendingNodes;
                }
                watches += connection.Watches.Count;
                if (connection.Watches.Count > Options.MaxWatchesPerConnection || connection.Transactions.Count > Options.MaxTransactionsPerConnection)
                    throw new InvariantException($"a connection holds {connection.Watches.Count} watches and {connection.Transactions.Count} transactions");
            }
            else if (connection.Watches.Count != 0 || connection.Transactions.Count != 0)
            {
                throw new InvariantException("a connection gone still holds watches or transactions");
            }
            if (account.Nodes != heldNodes || account.Bytes != charged || account.PendingNodes != pending)
                throw new InvariantException($"a connection is charged {account.Nodes} nodes, {account.Bytes} bytes, {account.PendingNodes} pending; it holds {heldNodes}, {charged}, {pending}");
            if (account.Nodes + account.PendingNodes > Options.MaxNodesPerConnection || account.Bytes > Options.MaxBytesPerConnection)
                throw new InvariantException($"a connection holds {account.Nodes}+{account.PendingNodes} nodes and {account.Bytes} bytes, past its quota");
            if (open || heldNodes != 0)
                _everyConnection[kept++] = connection;
        }
        _everyConnection.RemoveRange(kept, _everyConnection.Count - kept);
        if (pendingBytes != tree.PendingBytes || pendingNodes != tree.PendingNodes)
            throw new InvariantException($"the tree counts {tree.PendingBytes} bytes and {tree.PendingNodes} nodes pending, the transactions {pendingBytes} and {pendingNodes}");
        if (_server.IndexedWatches != watches)
            throw new InvariantException($"the watch index holds {_server.IndexedWatches} watches, the connections {watches}");
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        // Component indices: 0 local, 1 domain, 2 "0", 3 "3", 4 backend, 5 vif, 6 state, 7 a, 8 b, 9 c.
        yield return new FuzzScript()
            .Byte(OpOf(XenStoreMessageType.Write)).Byte(0).Bytes(PathOf(0, 1, 3)).Byte(2).Bytes("on"u8).Byte(0)
            .Byte(OpOf(XenStoreMessageType.Read)).Byte(0).Bytes(PathOf(0, 1, 3)).Byte(0)
            .Byte(OpOf(XenStoreMessageType.Directory)).Byte(0).Bytes(PathOf(0)).Byte(0)
            .Seed("write-read-directory");
        yield return new FuzzScript()
            .Byte(OpOf(XenStoreMessageType.Watch)).Byte(0).Bytes(PathOf(0, 1)).Byte(0).Byte(0)
            .Byte(OpOf(XenStoreMessageType.Write, 1)).Byte(0).Bytes(PathOf(0, 1, 2)).Byte(1).Bytes("x"u8).Byte(0)
            .Byte(OpOf(XenStoreMessageType.Rm, 1)).Byte(0).Bytes(PathOf(0)).Byte(0)
            .Byte(OpOf(XenStoreMessageType.Unwatch)).Byte(0).Bytes(PathOf(0, 1)).Byte(0).Byte(0)
            .Seed("watch-fires-across-connections");
        yield return new FuzzScript()
            .Byte(OpOf(XenStoreMessageType.TransactionStart)).Byte(0).Byte(0)
            .Byte(OpOf(XenStoreMessageType.TransactionStart)).Byte(0).Byte(0)
            .Byte(OpOf(XenStoreMessageType.Write)).Byte(1).Bytes(PathOf(4, 5, 3)).Byte(3).Bytes("abc"u8).Byte(0)
            .Byte(OpOf(XenStoreMessageType.Write)).Byte(1 | 4).Bytes(PathOf(4, 5, 3)).Byte(3).Bytes("def"u8).Byte(0)
            .Byte(OpOf(XenStoreMessageType.TransactionEnd)).Byte(1).Byte(0).Byte(0)
            .Byte(OpOf(XenStoreMessageType.TransactionEnd)).Byte(1).Byte(0).Byte(0)
            .Seed("conflicting-transactions");
        var quota = new FuzzScript();
        for (var i = 0; i < 30; i++)
            quota.Byte(OpOf(XenStoreMessageType.Write)).Byte(0).Bytes(PathOf(7, 8, i % 10)).Byte(64).Bytes(new byte[64]).Byte(0);
        yield return quota.Seed("node-and-byte-quotas");
        var watchQuota = new FuzzScript();
        for (var i = 0; i < 8; i++)
            watchQuota.Byte(OpOf(XenStoreMessageType.Watch)).Byte(0).Bytes(PathOf(7 + (i % 3))).Byte(i % 3).Byte(0);
        yield return watchQuota.Byte(OpOf(XenStoreMessageType.ResetWatches)).Byte(0).Byte(0).Seed("watch-quota-and-reset");
        var transactionQuota = new FuzzScript();
        for (var i = 0; i < 5; i++)
            transactionQuota.Byte(OpOf(XenStoreMessageType.TransactionStart)).Byte(0).Byte(0);
        for (var i = 0; i < 14; i++)
            transactionQuota.Byte(OpOf(XenStoreMessageType.Mkdir)).Byte(1).Bytes(PathOf(7, i % 10)).Byte(0);
        yield return transactionQuota.Byte(Close).Seed("transaction-quotas-then-close");
        yield return new FuzzScript()
            .Byte(OpOf(XenStoreMessageType.Mkdir)).Byte(0).Bytes(PathOf(7)).Byte(0)
            .Byte(OpOf(XenStoreMessageType.SetPerms)).Byte(0).Bytes(PathOf(7)).Byte(4).Byte(0).Byte(1).Byte(2).Byte(3).Byte(0)
            .Byte(OpOf(XenStoreMessageType.SetPerms)).Byte(0).Bytes(PathOf(7)).Byte(2).Byte(0).Byte(1).Byte(0)
            .Byte(OpOf(XenStoreMessageType.GetPerms)).Byte(0).Bytes(PathOf(7)).Byte(0)
            .Byte(OpOf(XenStoreMessageType.DirectoryPart)).Byte(0).Bytes(PathOf()).UInt16(0).Byte(0)
            .Byte(OpOf(XenStoreMessageType.GetDomainPath)).Byte(0).UInt32(7).Byte(0)
            .Seed("perms-and-parts");
        yield return new FuzzScript()
            .Byte(Raw).UInt32((uint)XenStoreMessageType.Write).UInt32(1).UInt32(0).UInt32(5).Bytes("/a\0bc"u8)
            .Byte(Raw).UInt32(99).UInt32(2).UInt32(0).UInt32(0)
            .Byte(Raw).UInt32((uint)XenStoreMessageType.Read).UInt32(3).UInt32(0).UInt32(5000)
            .Seed("raw-messages-and-oversized");
        yield return new FuzzScript()
            .Byte(OpOf(XenStoreMessageType.Write, 2)).Byte(0).Bytes(PathOf(7)).Byte(1).Bytes("v"u8).Byte(0)
            .Byte(Close).Byte(OpOf(XenStoreMessageType.Write, 2)).Byte(0).Bytes(PathOf(7)).Byte(1).Bytes("v"u8).Byte(0)
            .Byte(OpOf(XenStoreMessageType.Read)).Byte(0).Byte(1).Byte(241).Byte('/').Byte(3)
            .Seed("connection-limit-and-mangled");
        yield return DeepPathsInATransaction();
    }

    /// <summary>
    /// One transaction creating deep paths of long components: what the commit stores (every prefix of
    /// every path) is more than its requests paid for, past the connection's bytes (a finding: the commit
    /// was not held to the quotas).
    /// </summary>
    private static FuzzSeed DeepPathsInATransaction()
    {
        var script = new FuzzScript().Byte(OpOf(XenStoreMessageType.TransactionStart)).Byte(0).Byte(0);
        for (var p = 0; p < 5; p++)
        {
            var depth = p < 4 ? 5 : 4;
            script.Byte(OpOf(XenStoreMessageType.Write)).Byte(1).Byte(depth);
            for (var d = 0; d < depth; d++)
                script.Byte(255).Bytes(System.Text.Encoding.Latin1.GetBytes(new string((char)('a' + p), 14) + (char)('a' + d)));
            script.Byte(1).Bytes("v"u8).Byte(0);
        }
        return script.Byte(OpOf(XenStoreMessageType.TransactionEnd)).Byte(1).Byte(0).Byte(0).Seed("deep-paths-in-a-transaction");
    }

    public static int OpOf(XenStoreMessageType type, int connection = 0) => (connection << 4) | Array.IndexOf(Types, type);

    /// <summary>A path as <see cref="AppendPath"/> reads it: its depth, then an index into <see cref="Components"/> for each.</summary>
    public static byte[] PathOf(params int[] components) => [(byte)components.Length, .. components.Select(c => (byte)c)];
}
