using System.Text;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Xen.Tests.XenStore;

/// <summary>What a hostile or broken client sends gets an ERROR reply or a closed connection, and nobody else notices.</summary>
public sealed class XenStoreHostileInputTests : IAsyncLifetime
{
    private XenStoreTestServer _server = null!;
    private XenStoreClient _bystander = null!;
    private RawXenStoreConnection _raw = null!;

    public async Task InitializeAsync()
    {
        _server = await XenStoreTestServer.StartAsync(new XenStoreServerOptions
        {
            MaxWatchesPerConnection = 100,
            MaxTransactionsPerConnection = 4,
            MaxQueuedBytesPerConnection = 16 * 1024,
        });
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

    private async Task AssertOthersStillServedAsync()
    {
        Assert.Equal(0, _server.Server.Statistics.ConnectionFaults);
        Assert.Equal("fine", await _bystander.ReadAsync("/bystander"));
        await using var fresh = await _server.ConnectAsync();
        await fresh.WriteAsync("/fresh", "ok");
        Assert.Equal("ok", await fresh.ReadAsync("/fresh"));
    }

    private async Task AssertErrorAsync(XenStoreMessageType type, byte[] payload, string expectedError, uint requestId = 77, uint transactionId = 0)
    {
        await _raw.SendAsync(type, requestId, payload, transactionId);
        var (header, text) = await _raw.ReceiveTextAsync();
        Assert.True(header.Type == XenStoreMessageType.Error, $"{type} {Encoding.ASCII.GetString(payload)}: expected ERROR {expectedError}, got {header.Type} \"{text}\"");
        Assert.Equal(expectedError + "\0", text);
        Assert.Equal(requestId, header.RequestId);
        Assert.Equal(transactionId, header.TransactionId);
    }

    [Fact]
    public async Task Payload_over_XENSTORE_PAYLOAD_MAX_closes_the_connection()
    {
        await _raw.SendAsync(RawXenStoreConnection.Message(XenStoreMessageType.Write, 1, 0, RawXenStoreConnection.Strings("/x"), declaredLength: XenStoreLimits.PayloadMax + 1));

        Assert.True(await _raw.IsClosedByServerAsync(), "the server kept a connection that declared an oversized payload");
        Assert.Equal(1, _server.Server.Statistics.ProtocolViolations);
        await AssertOthersStillServedAsync();
    }

    [Theory]
    [InlineData(99u)]
    [InlineData(0xffffu)]
    [InlineData((uint)XenStoreMessageType.Control)]
    [InlineData((uint)XenStoreMessageType.Introduce)]
    [InlineData((uint)XenStoreMessageType.WatchEvent)]
    [InlineData((uint)XenStoreMessageType.Error)]
    public async Task Unknown_or_unsupported_type_answers_ENOSYS(uint type)
    {
        await AssertErrorAsync((XenStoreMessageType)type, RawXenStoreConnection.Strings("/x"), XenStoreErrors.ENOSYS);
        await AssertOthersStillServedAsync();
    }

    [Theory]
    [InlineData("")]
    [InlineData("relative/path")]
    [InlineData("/trailing/")]
    [InlineData("/double//slash")]
    [InlineData("/bad char")]
    [InlineData("/bad\u00ff")]
    [InlineData("@introduceDomain")]
    public async Task Malformed_path_answers_EINVAL(string path)
    {
        var payload = Encoding.Latin1.GetBytes(path + "\0");
        await AssertErrorAsync(XenStoreMessageType.Read, payload, XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Write, Encoding.Latin1.GetBytes(path + "\0value"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Mkdir, payload, XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Rm, payload, XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Directory, payload, XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.GetPerms, payload, XenStoreErrors.EINVAL);
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Path_over_XENSTORE_ABS_PATH_MAX_answers_EINVAL()
    {
        var path = "/" + new string('a', XenStoreLimits.AbsolutePathMax);
        await AssertErrorAsync(XenStoreMessageType.Write, RawXenStoreConnection.Strings(path, "v"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Watch, RawXenStoreConnection.Strings(path, "t"), XenStoreErrors.EINVAL);
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Missing_NUL_answers_EINVAL()
    {
        await AssertErrorAsync(XenStoreMessageType.Read, "/bystander"u8.ToArray(), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Write, "/no-nul-at-all"u8.ToArray(), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Watch, "/w\0token"u8.ToArray(), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Read, [], XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Read, "/a\0/b\0"u8.ToArray(), XenStoreErrors.EINVAL);
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Malformed_arguments_answer_EINVAL()
    {
        await AssertErrorAsync(XenStoreMessageType.SetPerms, RawXenStoreConnection.Strings("/bystander", "x9"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.SetPerms, RawXenStoreConnection.Strings("/bystander"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.GetDomainPath, RawXenStoreConnection.Strings("65536"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.GetDomainPath, RawXenStoreConnection.Strings("-1"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Watch, RawXenStoreConnection.Strings("/w"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.DirectoryPart, RawXenStoreConnection.Strings("/", "x"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Rm, RawXenStoreConnection.Strings("/"), XenStoreErrors.EINVAL);
        await AssertErrorAsync(XenStoreMessageType.Unwatch, RawXenStoreConnection.Strings("/never", "set"), XenStoreErrors.ENOENT);
        Assert.Equal("fine", await _bystander.ReadAsync("/bystander"));
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Transaction_misuse_answers_xenstoreds_errors()
    {
        await AssertErrorAsync(XenStoreMessageType.Read, RawXenStoreConnection.Strings("/bystander"), XenStoreErrors.ENOENT, transactionId: 12345);
        await AssertErrorAsync(XenStoreMessageType.TransactionEnd, RawXenStoreConnection.Strings("T"), XenStoreErrors.ENOENT);

        var ids = new List<uint>();
        for (var i = 0; i < 4; i++)
        {
            await _raw.SendAsync(XenStoreMessageType.TransactionStart, 1, [0]);
            var (header, text) = await _raw.ReceiveTextAsync();
            Assert.Equal(XenStoreMessageType.TransactionStart, header.Type);
            ids.Add(uint.Parse(text.TrimEnd('\0')));
        }
        await AssertErrorAsync(XenStoreMessageType.TransactionStart, [0], XenStoreErrors.ENOSPC);
        await AssertErrorAsync(XenStoreMessageType.TransactionStart, [0], XenStoreErrors.EBUSY, transactionId: ids[0]);
        await AssertErrorAsync(XenStoreMessageType.TransactionEnd, RawXenStoreConnection.Strings("maybe"), XenStoreErrors.EINVAL, transactionId: ids[0]);
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Transaction_of_another_connection_is_unknown()
    {
        var transaction = await _bystander.StartTransactionAsync();
        await AssertErrorAsync(XenStoreMessageType.Write, RawXenStoreConnection.Strings("/stolen", "v"), XenStoreErrors.ENOENT, transactionId: transaction.Id);
        Assert.True(await _bystander.EndTransactionAsync(transaction, commit: true));
        Assert.Null(await _bystander.ReadAsync("/stolen"));
    }

    [Fact]
    public async Task Thousands_of_watches_hit_the_per_connection_limit_with_ENOSPC()
    {
        // Pipelined: all requests first, then the answers (each OK followed by its initial event).
        var batch = new List<byte>();
        for (var i = 0; i < 2000; i++)
            batch.AddRange(RawXenStoreConnection.Message(XenStoreMessageType.Watch, (uint)i + 1, 0, RawXenStoreConnection.Strings($"/w/{i}", "t")));
        var sending = _raw.SendAsync([.. batch]);

        int ok = 0, refused = 0, events = 0;
        while (ok + refused < 2000)
        {
            var (header, text) = await _raw.ReceiveTextAsync();
            if (header.Type == XenStoreMessageType.WatchEvent)
                events++;
            else if (header.Type == XenStoreMessageType.Watch)
                ok++;
            else if (header.Type == XenStoreMessageType.Error && text == "ENOSPC\0")
                refused++;
            else
                Assert.Fail($"unexpected {header.Type} \"{text}\"");
        }
        await sending;

        Assert.Equal(100, ok);
        Assert.Equal(1900, refused);
        Assert.Equal(100, events);
        // A watch already set is found among the others, not confused with the quota.
        await AssertErrorAsync(XenStoreMessageType.Watch, RawXenStoreConnection.Strings("/w/50", "t"), XenStoreErrors.EEXIST);
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Client_that_leaves_mid_message_is_forgotten()
    {
        var message = RawXenStoreConnection.Message(XenStoreMessageType.Write, 1, 0, RawXenStoreConnection.Strings("/half", "written"));
        await _raw.SendAsync(message[..(message.Length - 3)]);
        _raw.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);

        Assert.True(await _raw.IsClosedByServerAsync());
        Assert.Null(await _bystander.ReadAsync("/half"));
        Assert.Equal(1, _server.Server.Statistics.ProtocolViolations);
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Client_that_leaves_with_watches_and_transactions_leaves_nothing_behind()
    {
        await _raw.SendAsync(XenStoreMessageType.Watch, 1, RawXenStoreConnection.Strings("/bystander", "gone"));
        await _raw.ReceiveTextAsync();
        await _raw.ReceiveTextAsync();
        await _raw.SendAsync(XenStoreMessageType.TransactionStart, 2, [0]);
        var (_, id) = await _raw.ReceiveTextAsync();
        await _raw.SendAsync(XenStoreMessageType.Write, 3, RawXenStoreConnection.Strings("/uncommitted", "v"), uint.Parse(id.TrimEnd('\0')));
        await _raw.ReceiveTextAsync();

        _raw.Dispose();
        await _bystander.WriteAsync("/bystander", "fine");

        Assert.Null(await _bystander.ReadAsync("/uncommitted"));
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Slow_client_is_dropped_past_its_queue_bound_and_the_writer_is_not_held_up()
    {
        await _raw.SendAsync(XenStoreMessageType.Watch, 1, RawXenStoreConnection.Strings("/flood", new string('t', 1000)));
        // The raw client now never reads: its events (each for a node of its own, so none is the same as
        // one still queued) fill the socket, then its queue.
        var writes = Enumerable.Range(0, 3000).Select(i => _bystander.WriteAsync($"/flood/{i}", "v"));
        await Task.WhenAll(writes);

        Assert.True(await _raw.IsClosedByServerAsync(), "the slow client was never dropped");
        Assert.Equal(1, _server.Server.Statistics.SlowClientsDropped);
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Watch_event_identical_to_one_still_queued_is_coalesced_and_the_slow_client_kept()
    {
        var token = new string('t', 1000);
        await _raw.SendAsync(XenStoreMessageType.Watch, 1, RawXenStoreConnection.Strings("/flood", token));
        // A guest rewriting one node in a loop while the watcher does not read: ten times the queue bound
        // in events, all for the same path and token.
        for (var round = 0; round < 30; round++)
            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => _bystander.WriteAsync("/flood", (100 * round + i).ToString())));

        Assert.Equal(0, _server.Server.Statistics.SlowClientsDropped);
        Assert.True(_server.Server.Statistics.WatchEventsCoalesced > 0);
        // The client reads at last: its reply, then events for /flood (the initial one and some of the
        // writes), and after them it is served and its watch still fires.
        var (reply, _) = await _raw.ReceiveTextAsync();
        Assert.Equal(XenStoreMessageType.Watch, reply.Type);
        await _raw.SendAsync(XenStoreMessageType.Read, 2, RawXenStoreConnection.Strings("/flood"));
        while (true)
        {
            var (header, text) = await _raw.ReceiveTextAsync();
            if (header.Type == XenStoreMessageType.WatchEvent)
            {
                Assert.Equal("/flood\0" + token + "\0", text);
                continue;
            }
            Assert.Equal(XenStoreMessageType.Read, header.Type);
            Assert.Equal("2999", text);
            break;
        }
        await _bystander.WriteAsync("/flood", "last");
        var (last, lastText) = await _raw.ReceiveTextAsync();
        Assert.Equal(XenStoreMessageType.WatchEvent, last.Type);
        Assert.Equal("/flood\0" + token + "\0", lastText);
        await AssertOthersStillServedAsync();
    }

    [Fact]
    public async Task Random_garbage_never_hurts_other_clients()
    {
        var random = new Random(20261125);
        var junk = new List<byte>();
        for (var i = 0; i < 500; i++)
        {
            var payload = new byte[random.Next(0, 64)];
            random.NextBytes(payload);
            if (random.Next(2) == 0 && payload.Length > 0)
                payload[0] = (byte)'/';
            var type = (XenStoreMessageType)random.Next(0, (int)XenStoreMessageType.TypeCount + 3);
            junk.AddRange(RawXenStoreConnection.Message(type, (uint)random.Next(), (uint)random.Next(0, 3), payload));
        }
        await _raw.SendAsync([.. junk]);
        _raw.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);

        Assert.True(await _raw.IsClosedByServerAsync());
        Assert.Equal(0, _server.Server.Statistics.ProtocolViolations);
        await AssertOthersStillServedAsync();
    }
}
