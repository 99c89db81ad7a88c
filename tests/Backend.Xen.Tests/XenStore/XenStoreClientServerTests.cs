using System.Threading.Channels;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.XenStore;

public sealed class XenStoreClientServerTests : IAsyncLifetime
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    private XenStoreTestServer _server = null!;
    private XenStoreClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await XenStoreTestServer.StartAsync();
        _client = await _server.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        Assert.Equal(0, _server.Server.Statistics.ConnectionFaults);
    }

    /// <summary>Collects watch events; by the time a request of the same connection is answered, the events it caused are here.</summary>
    private sealed class EventLog
    {
        private readonly Channel<XenStoreWatchEvent> _events = Channel.CreateUnbounded<XenStoreWatchEvent>();

        public void Add(XenStoreWatchEvent watchEvent) => _events.Writer.TryWrite(watchEvent);

        public async Task<XenStoreWatchEvent> NextAsync()
        {
            using var cts = new CancellationTokenSource(EventTimeout);
            return await _events.Reader.ReadAsync(cts.Token);
        }

        public List<XenStoreWatchEvent> Drain()
        {
            var drained = new List<XenStoreWatchEvent>();
            while (_events.Reader.TryRead(out var e))
                drained.Add(e);
            return drained;
        }
    }

    [Fact]
    public async Task Write_then_read_returns_the_value()
    {
        await _client.WriteAsync("/local/domain/1/name", "guest-1");
        Assert.Equal("guest-1", await _client.ReadAsync("/local/domain/1/name"));
    }

    [Fact]
    public async Task Read_of_a_missing_node_is_null()
    {
        Assert.Null(await _client.ReadAsync("/nowhere"));
    }

    [Fact]
    public async Task Empty_value_round_trips()
    {
        await _client.WriteAsync("/empty", "");
        Assert.Equal("", await _client.ReadAsync("/empty"));
    }

    [Fact]
    public async Task Mkdir_creates_the_node_and_its_parents()
    {
        await _client.MkdirAsync("/a/b/c");
        Assert.Equal("", await _client.ReadAsync("/a/b/c"));
        Assert.Equal(["b"], await _client.DirectoryAsync("/a"));
    }

    [Fact]
    public async Task Directory_lists_children_in_creation_order_and_null_when_missing()
    {
        await _client.WriteAsync("/d/x", "1");
        await _client.WriteAsync("/d/y", "2");
        await _client.MkdirAsync("/d/z");

        Assert.Equal(["x", "y", "z"], await _client.DirectoryAsync("/d"));
        Assert.Equal([], await _client.DirectoryAsync("/d/x"));
        Assert.Null(await _client.DirectoryAsync("/nothing"));
    }

    [Fact]
    public async Task Directory_too_long_for_one_reply_comes_in_parts()
    {
        // 300 names of 20 characters: 6300 bytes, more than XENSTORE_PAYLOAD_MAX, so DIRECTORY answers E2BIG.
        var names = Enumerable.Range(0, 300).Select(i => $"child-{i:D14}").ToList();
        await Task.WhenAll(names.Select(name => _client.MkdirAsync("/big/" + name)));

        var listed = await _client.DirectoryAsync("/big");

        Assert.NotNull(listed);
        Assert.Equal(names.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Remove_deletes_the_subtree_and_missing_is_no_error()
    {
        await _client.WriteAsync("/r/a/b", "1");
        await _client.RemoveAsync("/r/a");

        Assert.Null(await _client.ReadAsync("/r/a/b"));
        Assert.Null(await _client.ReadAsync("/r/a"));
        Assert.Equal([], await _client.DirectoryAsync("/r"));
        await _client.RemoveAsync("/r/a");
        await _client.RemoveAsync("/no/such/parent");
    }

    [Fact]
    public async Task Permissions_round_trip_and_are_inherited()
    {
        await _client.MkdirAsync("/local/domain/5");
        await _client.SetPermissionsAsync("/local/domain/5", ["n5", "r0"]);
        await _client.WriteAsync("/local/domain/5/device/vif/0/state", "1");

        Assert.Equal(["n5", "r0"], await _client.GetPermissionsAsync("/local/domain/5"));
        Assert.Equal(["n5", "r0"], await _client.GetPermissionsAsync("/local/domain/5/device/vif/0/state"));
        Assert.Equal(["n0"], await _client.GetPermissionsAsync("/"));
        Assert.Null(await _client.GetPermissionsAsync("/missing"));
    }

    [Fact]
    public async Task Malformed_permission_is_refused_before_sending()
    {
        await _client.MkdirAsync("/p");
        await Assert.ThrowsAsync<ArgumentException>(() => _client.SetPermissionsAsync("/p", ["q0"]));
    }

    [Fact]
    public async Task Error_reply_carries_xens_error_name()
    {
        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => _client.SetPermissionsAsync("/missing", ["n0"]));
        Assert.Equal(XenStoreErrors.ENOENT, error.ErrorName);
        Assert.Equal("/missing", error.Path);
        Assert.Equal(XenStoreMessageType.SetPerms, error.Operation);
    }

    [Fact]
    public async Task Get_domain_path_answers_local_domain()
    {
        Assert.Equal("/local/domain/7", await _client.GetDomainPathAsync(7));
    }

    [Fact]
    public async Task Watch_fires_once_initially_then_on_changes_at_or_below_its_path()
    {
        var log = new EventLog();
        await using var watch = await _client.WatchAsync("/w", "tok", log.Add);

        Assert.Equal(new XenStoreWatchEvent("/w", "tok"), await log.NextAsync());

        await _client.WriteAsync("/w", "1");
        await _client.WriteAsync("/w/child/grandchild", "2");
        await _client.WriteAsync("/other", "3");
        await _client.WriteAsync("/wx", "4");

        Assert.Equal(
            [new XenStoreWatchEvent("/w", "tok"), new XenStoreWatchEvent("/w/child/grandchild", "tok")],
            log.Drain());
    }

    [Fact]
    public async Task Watch_fires_when_the_node_or_an_ancestor_is_removed()
    {
        await _client.WriteAsync("/anc/mid/leaf", "1");
        var log = new EventLog();
        await using var watch = await _client.WatchAsync("/anc/mid/leaf", "leaf", log.Add);
        await log.NextAsync();

        await _client.RemoveAsync("/anc");

        Assert.Equal([new XenStoreWatchEvent("/anc/mid/leaf", "leaf")], log.Drain());
    }

    [Fact]
    public async Task Watch_on_an_ancestor_fires_with_the_removed_path()
    {
        await _client.WriteAsync("/tree/sub/leaf", "1");
        var log = new EventLog();
        await using var watch = await _client.WatchAsync("/tree", "t", log.Add);
        await log.NextAsync();

        await _client.RemoveAsync("/tree/sub");

        Assert.Equal([new XenStoreWatchEvent("/tree/sub", "t")], log.Drain());
    }

    [Fact]
    public async Task Watch_sees_changes_made_by_another_connection()
    {
        await using var other = await _server.ConnectAsync();
        var log = new EventLog();
        await using var watch = await _client.WatchAsync("/shared", "s", log.Add);
        await log.NextAsync();

        await other.WriteAsync("/shared/key", "v");

        Assert.Equal(new XenStoreWatchEvent("/shared/key", "s"), await log.NextAsync());
    }

    [Fact]
    public async Task Unwatch_stops_the_events()
    {
        var log = new EventLog();
        var watch = await _client.WatchAsync("/u", "u", log.Add);
        await log.NextAsync();

        await watch.DisposeAsync();
        await _client.WriteAsync("/u", "1");

        Assert.Empty(log.Drain());
        Assert.Equal(1, _server.Server.Statistics.OpenConnections);
    }

    [Fact]
    public async Task Same_watch_twice_is_EEXIST_and_the_first_keeps_working()
    {
        var log = new EventLog();
        await using var watch = await _client.WatchAsync("/dup", "d", log.Add);
        await log.NextAsync();

        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => _client.WatchAsync("/dup", "d", _ => { }));
        Assert.Equal(XenStoreErrors.EEXIST, error.ErrorName);

        await _client.WriteAsync("/dup", "1");
        Assert.Equal([new XenStoreWatchEvent("/dup", "d")], log.Drain());
    }

    [Fact]
    public async Task Special_watch_paths_are_accepted_with_their_initial_event()
    {
        var log = new EventLog();
        await using var introduce = await _client.WatchAsync(XenStorePath.IntroduceDomain, "i", log.Add);
        await using var release = await _client.WatchAsync(XenStorePath.ReleaseDomain, "r", log.Add);

        Assert.Equal(new XenStoreWatchEvent("@introduceDomain", "i"), await log.NextAsync());
        Assert.Equal(new XenStoreWatchEvent("@releaseDomain", "r"), await log.NextAsync());
        await _client.WriteAsync("/anything", "1");
        Assert.Empty(log.Drain());
    }

    [Fact]
    public async Task Reset_watches_drops_every_watch_of_the_connection()
    {
        var log = new EventLog();
        await _client.WatchAsync("/reset", "r", log.Add);
        await log.NextAsync();

        await _client.ResetWatchesAsync();
        await _client.WriteAsync("/reset", "1");

        Assert.Empty(log.Drain());
    }

    [Fact]
    public async Task Transaction_isolates_its_writes_until_commit_and_fires_watches_then()
    {
        var log = new EventLog();
        await using var watch = await _client.WatchAsync("/tx", "tx", log.Add);
        await log.NextAsync();
        var transaction = await _client.StartTransactionAsync();

        await _client.WriteAsync("/tx/a", "1", transaction);
        Assert.Equal("1", await _client.ReadAsync("/tx/a", transaction));
        Assert.Null(await _client.ReadAsync("/tx/a"));
        Assert.Empty(log.Drain());

        Assert.True(await _client.EndTransactionAsync(transaction, commit: true));
        Assert.Equal("1", await _client.ReadAsync("/tx/a"));
        Assert.Equal([new XenStoreWatchEvent("/tx/a", "tx")], log.Drain());
    }

    [Fact]
    public async Task Aborted_transaction_leaves_nothing()
    {
        var transaction = await _client.StartTransactionAsync();
        await _client.WriteAsync("/abort/a", "1", transaction);

        Assert.True(await _client.EndTransactionAsync(transaction, commit: false));
        Assert.Null(await _client.ReadAsync("/abort/a"));
        // xenstored answers ENOENT for a transaction id it does not know (any more).
        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => _client.WriteAsync("/abort/a", "2", transaction));
        Assert.Equal(XenStoreErrors.ENOENT, error.ErrorName);
    }

    [Fact]
    public async Task Conflicting_commit_answers_EAGAIN()
    {
        await _client.WriteAsync("/c/counter", "0");
        await using var other = await _server.ConnectAsync();
        var transaction = await _client.StartTransactionAsync();
        var seen = await _client.ReadAsync("/c/counter", transaction);
        await _client.WriteAsync("/c/counter", seen + "1", transaction);

        await other.WriteAsync("/c/counter", "5");

        Assert.False(await _client.EndTransactionAsync(transaction, commit: true));
        Assert.Equal("5", await _client.ReadAsync("/c/counter"));
    }

    [Fact]
    public async Task RunTransaction_retries_on_conflict_until_it_commits()
    {
        await _client.WriteAsync("/c/n", "0");
        await using var other = await _server.ConnectAsync();
        var attempts = 0;

        await _client.RunTransactionAsync(async transaction =>
        {
            attempts++;
            var n = await _client.ReadIntAsync("/c/n", transaction) ?? throw new InvalidOperationException("/c/n vanished");
            // The first two attempts meet a change made by someone else after their read.
            if (attempts <= 2)
                await other.WriteAsync("/c/n", (n + 10).ToString());
            await _client.WriteAsync("/c/n", (n + 1).ToString(), transaction);
        });

        Assert.Equal(3, attempts);
        Assert.Equal(21, await _client.ReadIntAsync("/c/n"));
    }

    [Fact]
    public async Task RunTransaction_gives_up_after_its_attempts()
    {
        await _client.WriteAsync("/c/busy", "0");
        await using var other = await _server.ConnectAsync();
        var attempts = 0;

        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => _client.RunTransactionAsync(async transaction =>
        {
            attempts++;
            await _client.ReadAsync("/c/busy", transaction);
            await other.WriteAsync("/c/busy", attempts.ToString());
        }, maxAttempts: 3));

        Assert.Equal(XenStoreErrors.EAGAIN, error.ErrorName);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task RunTransaction_aborts_when_the_body_throws()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => _client.RunTransactionAsync(async transaction =>
        {
            await _client.WriteAsync("/thrown/a", "1", transaction);
            throw new InvalidOperationException("body failed");
        }));

        Assert.Null(await _client.ReadAsync("/thrown/a"));
    }

    [Fact]
    public async Task Typed_reads_parse_numbers_and_name_the_path_of_a_malformed_value()
    {
        await _client.WriteAsync("/v/int", "-42");
        await _client.WriteAsync("/v/uint", "4294967295");
        await _client.WriteAsync("/v/ulong", "18446744073709551615");
        await _client.WriteAsync("/v/bool", "1");
        await _client.WriteAsync("/v/bad", "12abc");

        Assert.Equal(-42, await _client.ReadIntAsync("/v/int"));
        Assert.Equal(uint.MaxValue, await _client.ReadUIntAsync("/v/uint"));
        Assert.Equal(ulong.MaxValue, await _client.ReadULongAsync("/v/ulong"));
        Assert.True(await _client.ReadBoolAsync("/v/bool"));
        Assert.Null(await _client.ReadUIntAsync("/v/missing"));

        var error = await Assert.ThrowsAsync<XenStoreValueException>(() => _client.ReadUIntAsync("/v/bad"));
        Assert.Equal("/v/bad", error.Path);
        Assert.Equal("12abc", error.Value);
        Assert.Contains("/v/bad", error.Message);
        await Assert.ThrowsAsync<XenStoreValueException>(() => _client.ReadUIntAsync("/v/int"));
        await Assert.ThrowsAsync<XenStoreValueException>(() => _client.ReadBoolAsync("/v/int"));
    }

    [Fact]
    public async Task Many_requests_in_flight_are_matched_to_their_replies()
    {
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => _client.WriteAsync($"/many/k{i}", $"v{i}")));

        var values = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => _client.ReadAsync($"/many/k{i}")));

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"v{i}"), values);
    }

    [Fact]
    public async Task Invalid_path_is_refused_before_sending()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _client.ReadAsync("relative/path"));
        await Assert.ThrowsAsync<ArgumentException>(() => _client.WriteAsync("/x", new string('v', XenStoreLimits.PayloadMax)));
        Assert.Null(await _client.ReadAsync("/still/works"));
    }

    [Fact]
    public async Task Broken_connection_fails_pending_and_later_requests()
    {
        var transaction = await _client.StartTransactionAsync();
        var pending = Enumerable.Range(0, 50).Select(i => _client.WriteAsync($"/broken/k{i}", "v", transaction)).ToList();

        await _server.Server.DisposeAsync();

        foreach (var request in pending)
        {
            try
            {
                await request;
            }
            catch (XenStoreConnectionException)
            {
                // Expected for those still in flight when the server went away.
            }
        }
        await Assert.ThrowsAsync<XenStoreConnectionException>(() => _client.ReadAsync("/broken/k0"));
    }

    [Fact]
    public async Task Watch_callback_that_throws_breaks_the_connection_visibly()
    {
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await _client.WatchAsync("/throwing", "t", _ => throw new InvalidOperationException("callback bug"));
            await _client.ReadAsync("/throwing");
        });

        var error = await Assert.ThrowsAsync<XenStoreConnectionException>(() => _client.ReadAsync("/throwing"));
        Assert.Contains("callback", error.Message);
    }

    [Fact]
    public async Task Disposed_client_refuses_requests()
    {
        await _client.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => _client.ReadAsync("/x"));
    }
}
