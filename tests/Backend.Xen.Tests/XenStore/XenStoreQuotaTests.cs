using System.Text;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Xen.Tests.XenStore;

/// <summary>
/// Every quota of the embedded server, met by one client: the request is answered ENOSPC (C xenstored's
/// code), the tree is as it was before it, and the other clients are served as before.
/// </summary>
public sealed class XenStoreQuotaTests : IAsyncLifetime
{
    private static readonly XenStoreServerOptions Options = new()
    {
        MaxConnections = 6,
        MaxNodesPerConnection = 16,
        MaxBytesPerConnection = 8192,
        MaxNodes = 48,
        MaxRequestsPerTransaction = 8,
    };

    private XenStoreTestServer _server = null!;
    private XenStoreClient _bystander = null!;
    private RawXenStoreConnection _raw = null!;
    private uint _requestId;

    public async Task InitializeAsync()
    {
        _server = await XenStoreTestServer.StartAsync(Options);
        _bystander = await _server.ConnectAsync();
        await _bystander.WriteAsync("/bystander", "fine");
        _raw = await RawXenStoreConnection.ConnectAsync(_server.SocketPath);
    }

    public async Task DisposeAsync()
    {
        _raw.Dispose();
        await _bystander.DisposeAsync();
        await _server.DisposeAsync();
    }

    private async Task<(XenStoreMessageHeader Header, string Text)> RequestAsync(XenStoreMessageType type, byte[] payload, uint transactionId = 0)
    {
        var id = ++_requestId;
        await _raw.SendAsync(type, id, payload, transactionId);
        var (header, text) = await _raw.ReceiveTextAsync();
        Assert.Equal(id, header.RequestId);
        return (header, text);
    }

    private async Task AssertOkAsync(XenStoreMessageType type, byte[] payload, uint transactionId = 0)
    {
        var (header, text) = await RequestAsync(type, payload, transactionId);
        Assert.True(header.Type == type, $"{type} {Printable(payload)}: expected OK, got {header.Type} \"{text}\"");
    }

    private async Task AssertQuotaAsync(XenStoreMessageType type, byte[] payload, uint transactionId = 0)
    {
        var nodes = _server.Server.Statistics.Nodes;
        var refusals = _server.Server.Statistics.QuotaRefusals;
        var (header, text) = await RequestAsync(type, payload, transactionId);
        Assert.True(header.Type == XenStoreMessageType.Error && text == "ENOSPC\0",
            $"{type} {Printable(payload)}: expected ERROR ENOSPC, got {header.Type} \"{text}\"");
        Assert.Equal(nodes, _server.Server.Statistics.Nodes);
        Assert.Equal(refusals + 1, _server.Server.Statistics.QuotaRefusals);
    }

    private static string Printable(byte[] payload)
    {
        var text = Encoding.Latin1.GetString(payload).Replace('\0', '|');
        return text.Length > 60 ? text[..60] + "..." : text;
    }

    private static byte[] WritePayload(string path, string value) => Encoding.Latin1.GetBytes(path + "\0" + value);

    private async Task AssertOthersStillServedAsync()
    {
        Assert.Equal(0, _server.Server.Statistics.ConnectionFaults);
        Assert.Equal("fine", await _bystander.ReadAsync("/bystander"));
        await _bystander.WriteAsync("/bystander/still", "writes");
        await _bystander.RemoveAsync("/bystander/still");
    }

    private async Task<bool> ExistsAsync(string path) => await _bystander.ReadAsync(path) is not null;

    [Fact]
    public async Task Nodes_past_the_connection_quota_answer_ENOSPC_and_create_nothing()
    {
        // /n and /n/0 to /n/14: the connection's 16 nodes.
        for (var i = 0; i < 15; i++)
            await AssertOkAsync(XenStoreMessageType.Write, WritePayload($"/n/{i}", "v"));

        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload("/n/15", "v"));
        await AssertQuotaAsync(XenStoreMessageType.Mkdir, RawXenStoreConnection.Strings("/other"));
        Assert.False(await ExistsAsync("/n/15"));
        Assert.False(await ExistsAsync("/other"));
        // Rewriting a node it holds costs no node.
        await AssertOkAsync(XenStoreMessageType.Write, WritePayload("/n/3", "again"));
        await AssertOthersStillServedAsync();

        // A removed node is given back.
        await AssertOkAsync(XenStoreMessageType.Rm, RawXenStoreConnection.Strings("/n/0"));
        await AssertOkAsync(XenStoreMessageType.Write, WritePayload("/n/15", "v"));
        // A node is held by whoever wrote it last: the bystander taking one over frees one more.
        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload("/n/16", "v"));
        await _bystander.WriteAsync("/n/1", "mine now");
        await AssertOkAsync(XenStoreMessageType.Write, WritePayload("/n/16", "v"));
    }

    [Fact]
    public async Task Implicit_parents_count_and_a_refused_write_creates_none_of_them()
    {
        // /x and 16 levels below it: 17 nodes, one more than the connection's quota.
        var deep = "/x" + string.Concat(Enumerable.Range(1, 16).Select(i => "/" + i));
        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload(deep, "v"));
        Assert.False(await ExistsAsync("/x"));

        var (_, id) = await RequestAsync(XenStoreMessageType.TransactionStart, [0]);
        var transaction = uint.Parse(id.TrimEnd('\0'));
        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload(deep, "v"), transaction);
        await AssertOkAsync(XenStoreMessageType.Write, WritePayload("/x/1", "v"), transaction);
        await AssertOkAsync(XenStoreMessageType.TransactionEnd, RawXenStoreConnection.Strings("T"), transaction);
        Assert.True(await ExistsAsync("/x/1"));
        Assert.False(await ExistsAsync("/x/1/2"));
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task A_commit_that_would_take_over_a_node_past_the_connection_s_node_quota_answers_ENOSPC_and_changes_nothing()
    {
        // Found by the xenstore fuzz target: a rewrite inside a transaction was not charged, so a commit made
        // another connection's node its own past its quota. /n and /n/0 to /n/14: the connection's 16 nodes.
        for (var i = 0; i < 15; i++)
            await AssertOkAsync(XenStoreMessageType.Write, WritePayload($"/n/{i}", "v"));
        var (_, id) = await RequestAsync(XenStoreMessageType.TransactionStart, [0]);
        var transaction = uint.Parse(id.TrimEnd('\0'));
        await AssertOkAsync(XenStoreMessageType.Write, WritePayload("/bystander", "taken"), transaction);

        await AssertQuotaAsync(XenStoreMessageType.TransactionEnd, RawXenStoreConnection.Strings("T"), transaction);
        Assert.Equal("fine", await _bystander.ReadAsync("/bystander"));
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task A_commit_whose_implicit_parents_pass_the_connection_s_byte_quota_answers_ENOSPC_and_creates_nothing()
    {
        // Found by the xenstore fuzz target's accounting check: a request in a transaction pays for its own
        // path, but creating a path's 16 missing parents stores every prefix: 61 + 122 + ... + 976 = 8296
        // bytes, past the 8192 of the connection, for a request of 978.
        var deep = string.Concat(Enumerable.Range(0, 16).Select(i => "/" + new string((char)('a' + i), 60)));
        var (_, id) = await RequestAsync(XenStoreMessageType.TransactionStart, [0]);
        var transaction = uint.Parse(id.TrimEnd('\0'));
        await AssertOkAsync(XenStoreMessageType.Write, WritePayload(deep, "v"), transaction);

        await AssertQuotaAsync(XenStoreMessageType.TransactionEnd, RawXenStoreConnection.Strings("T"), transaction);
        Assert.False(await ExistsAsync("/" + new string('a', 60)));
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Value_over_2048_bytes_answers_ENOSPC()
    {
        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload("/big", new string('v', 2049)));
        Assert.False(await ExistsAsync("/big"));

        await AssertOkAsync(XenStoreMessageType.Write, WritePayload("/big", new string('v', 2048)));
        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload("/big", new string('w', 2049)));
        Assert.Equal(new string('v', 2048), await _bystander.ReadAsync("/big"));
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Bytes_past_the_connection_quota_answer_ENOSPC_for_nodes_and_watches()
    {
        // /b (2 bytes), then /b/i with 2000-byte values (2004 bytes each): 8018 of the 8192.
        for (var i = 0; i < 4; i++)
            await AssertOkAsync(XenStoreMessageType.Write, WritePayload($"/b/{i}", new string('v', 2000)));

        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload("/b/4", new string('v', 2000)));
        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload("/b/0", new string('v', 2200)));
        // A watch costs its path and token.
        await AssertQuotaAsync(XenStoreMessageType.Watch, RawXenStoreConnection.Strings("/w", new string('t', 200)));
        Assert.Equal(new string('v', 2000), await _bystander.ReadAsync("/b/0"));
        Assert.False(await ExistsAsync("/b/4"));
        await AssertOthersStillServedAsync();

        await AssertOkAsync(XenStoreMessageType.Rm, RawXenStoreConnection.Strings("/b/0"));
        await AssertOkAsync(XenStoreMessageType.Watch, RawXenStoreConnection.Strings("/w", new string('t', 200)));
    }

    [Fact]
    public async Task More_than_five_permissions_answer_ENOSPC()
    {
        await AssertQuotaAsync(XenStoreMessageType.SetPerms, RawXenStoreConnection.Strings("/bystander", "n0", "r1", "r2", "r3", "r4", "r5"));
        Assert.Equal(["n0"], await _bystander.GetPermissionsAsync("/bystander"));

        await AssertOkAsync(XenStoreMessageType.SetPerms, RawXenStoreConnection.Strings("/bystander", "n0", "r1", "r2", "r3", "r4"));
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Requests_past_the_transaction_bound_answer_ENOSPC_and_the_rest_commits()
    {
        var (_, id) = await RequestAsync(XenStoreMessageType.TransactionStart, [0]);
        var transaction = uint.Parse(id.TrimEnd('\0'));
        for (var i = 0; i < 8; i++)
            await AssertOkAsync(XenStoreMessageType.Write, WritePayload($"/t/{i}", "v"), transaction);

        await AssertQuotaAsync(XenStoreMessageType.Write, WritePayload("/t/8", "v"), transaction);
        await AssertQuotaAsync(XenStoreMessageType.Read, RawXenStoreConnection.Strings("/t/0"), transaction);
        await AssertOkAsync(XenStoreMessageType.TransactionEnd, RawXenStoreConnection.Strings("T"), transaction);

        Assert.Equal("v", await _bystander.ReadAsync("/t/7"));
        Assert.False(await ExistsAsync("/t/8"));
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Whole_tree_bound_holds_against_a_client_that_reconnects_to_start_afresh()
    {
        var clients = new List<XenStoreClient>();
        try
        {
            XenStoreErrorException? refused = null;
            for (var c = 0; c < 4 && refused is null; c++)
            {
                var client = await _server.ConnectAsync();
                clients.Add(client);
                for (var i = 0; i < 15; i++)
                {
                    var nodes = _server.Server.Statistics.Nodes;
                    try
                    {
                        await client.WriteAsync($"/c{c}/{i}", "v");
                    }
                    catch (XenStoreErrorException e)
                    {
                        refused = e;
                        Assert.Equal(Options.MaxNodes, nodes);
                        break;
                    }
                }
                // Leaving does not give its nodes back: they stay in the tree.
                await client.DisposeAsync();
            }

            Assert.True(refused is not null, $"the tree grew to {_server.Server.Statistics.Nodes} nodes, over MaxNodes {Options.MaxNodes}");
            Assert.Equal(XenStoreErrors.ENOSPC, refused.ErrorName);
            Assert.Equal(Options.MaxNodes, _server.Server.Statistics.Nodes);
            Assert.Equal("fine", await _bystander.ReadAsync("/bystander"));

            await _bystander.RemoveAsync("/c0");
            await using var fresh = await _server.ConnectAsync();
            await fresh.WriteAsync("/fresh", "room again");
        }
        finally
        {
            foreach (var client in clients)
                await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Connection_past_the_limit_is_closed_at_once_and_counted()
    {
        // The bystander and the raw connection are two of the six.
        var others = new List<RawXenStoreConnection>();
        try
        {
            for (var i = 0; i < 4; i++)
                others.Add(await RawXenStoreConnection.ConnectAsync(_server.SocketPath));
            foreach (var other in others)
            {
                await other.SendAsync(XenStoreMessageType.Read, 1, RawXenStoreConnection.Strings("/bystander"));
                Assert.Equal(XenStoreMessageType.Read, (await other.ReceiveTextAsync()).Header.Type);
            }

            using var extra = await RawXenStoreConnection.ConnectAsync(_server.SocketPath);
            Assert.True(await extra.IsClosedByServerAsync(), "a seventh connection was served past MaxConnections 6");
            Assert.Equal(1, _server.Server.Statistics.ConnectionsRefused);
            await AssertOthersStillServedAsync();

            others[0].Dispose();
            others.RemoveAt(0);
            await WaitForAsync(() => _server.Server.Statistics.OpenConnections == 5);
            using var next = await RawXenStoreConnection.ConnectAsync(_server.SocketPath);
            await next.SendAsync(XenStoreMessageType.Read, 1, RawXenStoreConnection.Strings("/bystander"));
            Assert.Equal(XenStoreMessageType.Read, (await next.ReceiveTextAsync()).Header.Type);
        }
        finally
        {
            foreach (var other in others)
                other.Dispose();
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
            await Task.Delay(10, timeout.Token);
    }
}
