using System.Threading.Channels;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.XenStore;

public sealed class XenStoreClientServerTests : IAsyncLifetime
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    private XenStoreTestServer server = null!;
    private XenStoreClient client = null!;

    public async Task InitializeAsync()
    {
        server = await XenStoreTestServer.StartAsync();
        client = await server.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await client.DisposeAsync();
        await server.DisposeAsync();
        Assert.Equal(0, server.Server.Statistics.ConnectionFaults);
    }

    /// <summary>Collects watch events; by the time a request of the same connection is answered, the events it caused are here.</summary>
    private sealed class EventLog
    {
        private readonly Channel<XenStoreWatchEvent> events = Channel.CreateUnbounded<XenStoreWatchEvent>();

        public void Add(XenStoreWatchEvent watchEvent) => events.Writer.TryWrite(watchEvent);

        public async Task<XenStoreWatchEvent> NextAsync()
        {
            using var cts = new CancellationTokenSource(EventTimeout);
            return await events.Reader.ReadAsync(cts.Token);
        }

        public List<XenStoreWatchEvent> Drain()
        {
            var drained = new List<XenStoreWatchEvent>();
            while (events.Reader.TryRead(out var e))
                drained.Add(e);
            return drained;
        }
    }

    [Fact]
    public async Task Write_then_read_returns_the_value()
    {
        await client.WriteAsync("/local/domain/1/name", "guest-1");
        Assert.Equal("guest-1", await client.ReadAsync("/local/domain/1/name"));
    }

    [Fact]
    public async Task Read_of_a_missing_node_is_null()
    {
        Assert.Null(await client.ReadAsync("/nowhere"));
    }

    [Fact]
    public async Task Empty_value_round_trips()
    {
        await client.WriteAsync("/empty", "");
        Assert.Equal("", await client.ReadAsync("/empty"));
    }

    [Fact]
    public async Task Mkdir_creates_the_node_and_its_parents()
    {
        await client.MkdirAsync("/a/b/c");
        Assert.Equal("", await client.ReadAsync("/a/b/c"));
        Assert.Equal(["b"], await client.DirectoryAsync("/a"));
    }

    [Fact]
    public async Task Directory_lists_children_in_creation_order_and_null_when_missing()
    {
        await client.WriteAsync("/d/x", "1");
        await client.WriteAsync("/d/y", "2");
        await client.MkdirAsync("/d/z");

        Assert.Equal(["x", "y", "z"], await client.DirectoryAsync("/d"));
        Assert.Equal([], await client.DirectoryAsync("/d/x"));
        Assert.Null(await client.DirectoryAsync("/nothing"));
    }

    [Fact]
    public async Task Directory_too_long_for_one_reply_comes_in_parts()
    {
        // 300 names of 20 characters: 6300 bytes, more than XENSTORE_PAYLOAD_MAX, so DIRECTORY answers E2BIG.
        var names = Enumerable.Range(0, 300).Select(i => $"child-{i:D14}").ToList();
        await Task.WhenAll(names.Select(name => client.MkdirAsync("/big/" + name)));

        var listed = await client.DirectoryAsync("/big");

        Assert.NotNull(listed);
        Assert.Equal(names.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Remove_deletes_the_subtree_and_missing_is_no_error()
    {
        await client.WriteAsync("/r/a/b", "1");
        await client.RemoveAsync("/r/a");

        Assert.Null(await client.ReadAsync("/r/a/b"));
        Assert.Null(await client.ReadAsync("/r/a"));
        Assert.Equal([], await client.DirectoryAsync("/r"));
        await client.RemoveAsync("/r/a");
        await client.RemoveAsync("/no/such/parent");
    }

    [Fact]
    public async Task Permissions_round_trip_and_are_inherited()
    {
        await client.MkdirAsync("/local/domain/5");
        await client.SetPermissionsAsync("/local/domain/5", ["n5", "r0"]);
        await client.WriteAsync("/local/domain/5/device/vif/0/state", "1");

        Assert.Equal(["n5", "r0"], await client.GetPermissionsAsync("/local/domain/5"));
        Assert.Equal(["n5", "r0"], await client.GetPermissionsAsync("/local/domain/5/device/vif/0/state"));
        Assert.Equal(["n0"], await client.GetPermissionsAsync("/"));
        Assert.Null(await client.GetPermissionsAsync("/missing"));
    }

    [Fact]
    public async Task Malformed_permission_is_refused_before_sending()
    {
        await client.MkdirAsync("/p");
        await Assert.ThrowsAsync<ArgumentException>(() => client.SetPermissionsAsync("/p", ["q0"]));
    }

    [Fact]
    public async Task Error_reply_carries_xens_error_name()
    {
        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => client.SetPermissionsAsync("/missing", ["n0"]));
        Assert.Equal(XenStoreErrors.ENOENT, error.ErrorName);
        Assert.Equal("/missing", error.Path);
        Assert.Equal(XenStoreMessageType.SetPerms, error.Operation);
    }

    [Fact]
    public async Task Get_domain_path_answers_local_domain()
    {
        Assert.Equal("/local/domain/7", await client.GetDomainPathAsync(7));
    }

    [Fact]
    public async Task Watch_fires_once_initially_then_on_changes_at_or_below_its_path()
    {
        var log = new EventLog();
        await using var watch = await client.WatchAsync("/w", "tok", log.Add);

        Assert.Equal(new XenStoreWatchEvent("/w", "tok"), await log.NextAsync());

        await client.WriteAsync("/w", "1");
        await client.WriteAsync("/w/child/grandchild", "2");
        await client.WriteAsync("/other", "3");
        await client.WriteAsync("/wx", "4");

        Assert.Equal(
            [new XenStoreWatchEvent("/w", "tok"), new XenStoreWatchEvent("/w/child/grandchild", "tok")],
            log.Drain());
    }

    [Fact]
    public async Task Watch_fires_when_the_node_or_an_ancestor_is_removed()
    {
        await client.WriteAsync("/anc/mid/leaf", "1");
        var log = new EventLog();
        await using var watch = await client.WatchAsync("/anc/mid/leaf", "leaf", log.Add);
        await log.NextAsync();

        await client.RemoveAsync("/anc");

        Assert.Equal([new XenStoreWatchEvent("/anc/mid/leaf", "leaf")], log.Drain());
    }

    [Fact]
    public async Task Watch_on_an_ancestor_fires_with_the_removed_path()
    {
        await client.WriteAsync("/tree/sub/leaf", "1");
        var log = new EventLog();
        await using var watch = await client.WatchAsync("/tree", "t", log.Add);
        await log.NextAsync();

        await client.RemoveAsync("/tree/sub");

        Assert.Equal([new XenStoreWatchEvent("/tree/sub", "t")], log.Drain());
    }

    [Fact]
    public async Task Watch_sees_changes_made_by_another_connection()
    {
        await using var other = await server.ConnectAsync();
        var log = new EventLog();
        await using var watch = await client.WatchAsync("/shared", "s", log.Add);
        await log.NextAsync();

        await other.WriteAsync("/shared/key", "v");

        Assert.Equal(new XenStoreWatchEvent("/shared/key", "s"), await log.NextAsync());
    }

    [Fact]
    public async Task Unwatch_stops_the_events()
    {
        var log = new EventLog();
        var watch = await client.WatchAsync("/u", "u", log.Add);
        await log.NextAsync();

        await watch.DisposeAsync();
        await client.WriteAsync("/u", "1");

        Assert.Empty(log.Drain());
        Assert.Equal(1, server.Server.Statistics.OpenConnections);
    }

    [Fact]
    public async Task Same_watch_twice_is_EEXIST_and_the_first_keeps_working()
    {
        var log = new EventLog();
        await using var watch = await client.WatchAsync("/dup", "d", log.Add);
        await log.NextAsync();

        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => client.WatchAsync("/dup", "d", _ => { }));
        Assert.Equal(XenStoreErrors.EEXIST, error.ErrorName);

        await client.WriteAsync("/dup", "1");
        Assert.Equal([new XenStoreWatchEvent("/dup", "d")], log.Drain());
    }

    [Fact]
    public async Task Special_watch_paths_are_accepted_with_their_initial_event()
    {
        var log = new EventLog();
        await using var introduce = await client.WatchAsync(XenStorePath.IntroduceDomain, "i", log.Add);
        await using var release = await client.WatchAsync(XenStorePath.ReleaseDomain, "r", log.Add);

        Assert.Equal(new XenStoreWatchEvent("@introduceDomain", "i"), await log.NextAsync());
        Assert.Equal(new XenStoreWatchEvent("@releaseDomain", "r"), await log.NextAsync());
        await client.WriteAsync("/anything", "1");
        Assert.Empty(log.Drain());
    }

    [Fact]
    public async Task Reset_watches_drops_every_watch_of_the_connection()
    {
        var log = new EventLog();
        await client.WatchAsync("/reset", "r", log.Add);
        await log.NextAsync();

        await client.ResetWatchesAsync();
        await client.WriteAsync("/reset", "1");

        Assert.Empty(log.Drain());
    }

    [Fact]
    public async Task Transaction_isolates_its_writes_until_commit_and_fires_watches_then()
    {
        var log = new EventLog();
        await using var watch = await client.WatchAsync("/tx", "tx", log.Add);
        await log.NextAsync();
        var transaction = await client.StartTransactionAsync();

        await client.WriteAsync("/tx/a", "1", transaction);
        Assert.Equal("1", await client.ReadAsync("/tx/a", transaction));
        Assert.Null(await client.ReadAsync("/tx/a"));
        Assert.Empty(log.Drain());

        Assert.True(await client.EndTransactionAsync(transaction, commit: true));
        Assert.Equal("1", await client.ReadAsync("/tx/a"));
        Assert.Equal([new XenStoreWatchEvent("/tx/a", "tx")], log.Drain());
    }

    [Fact]
    public async Task Aborted_transaction_leaves_nothing()
    {
        var transaction = await client.StartTransactionAsync();
        await client.WriteAsync("/abort/a", "1", transaction);

        Assert.True(await client.EndTransactionAsync(transaction, commit: false));
        Assert.Null(await client.ReadAsync("/abort/a"));
        // xenstored answers ENOENT for a transaction id it does not know (any more).
        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => client.WriteAsync("/abort/a", "2", transaction));
        Assert.Equal(XenStoreErrors.ENOENT, error.ErrorName);
    }

    [Fact]
    public async Task Conflicting_commit_answers_EAGAIN()
    {
        await client.WriteAsync("/c/counter", "0");
        await using var other = await server.ConnectAsync();
        var transaction = await client.StartTransactionAsync();
        var seen = await client.ReadAsync("/c/counter", transaction);
        await client.WriteAsync("/c/counter", seen + "1", transaction);

        await other.WriteAsync("/c/counter", "5");

        Assert.False(await client.EndTransactionAsync(transaction, commit: true));
        Assert.Equal("5", await client.ReadAsync("/c/counter"));
    }

    [Fact]
    public async Task RunTransaction_retries_on_conflict_until_it_commits()
    {
        await client.WriteAsync("/c/n", "0");
        await using var other = await server.ConnectAsync();
        var attempts = 0;

        await client.RunTransactionAsync(async transaction =>
        {
            attempts++;
            var n = await client.ReadIntAsync("/c/n", transaction) ?? throw new InvalidOperationException("/c/n vanished");
            // The first two attempts meet a change made by someone else after their read.
            if (attempts <= 2)
                await other.WriteAsync("/c/n", (n + 10).ToString());
            await client.WriteAsync("/c/n", (n + 1).ToString(), transaction);
        });

        Assert.Equal(3, attempts);
        Assert.Equal(21, await client.ReadIntAsync("/c/n"));
    }

    [Fact]
    public async Task RunTransaction_gives_up_after_its_attempts()
    {
        await client.WriteAsync("/c/busy", "0");
        await using var other = await server.ConnectAsync();
        var attempts = 0;

        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => client.RunTransactionAsync(async transaction =>
        {
            attempts++;
            await client.ReadAsync("/c/busy", transaction);
            await other.WriteAsync("/c/busy", attempts.ToString());
        }, maxAttempts: 3));

        Assert.Equal(XenStoreErrors.EAGAIN, error.ErrorName);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task RunTransaction_aborts_when_the_body_throws()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.RunTransactionAsync(async transaction =>
        {
            await client.WriteAsync("/thrown/a", "1", transaction);
            throw new InvalidOperationException("body failed");
        }));

        Assert.Null(await client.ReadAsync("/thrown/a"));
    }

    [Fact]
    public async Task Typed_reads_parse_numbers_and_name_the_path_of_a_malformed_value()
    {
        await client.WriteAsync("/v/int", "-42");
        await client.WriteAsync("/v/uint", "4294967295");
        await client.WriteAsync("/v/ulong", "18446744073709551615");
        await client.WriteAsync("/v/bool", "1");
        await client.WriteAsync("/v/bad", "12abc");

        Assert.Equal(-42, await client.ReadIntAsync("/v/int"));
        Assert.Equal(uint.MaxValue, await client.ReadUIntAsync("/v/uint"));
        Assert.Equal(ulong.MaxValue, await client.ReadULongAsync("/v/ulong"));
        Assert.True(await client.ReadBoolAsync("/v/bool"));
        Assert.Null(await client.ReadUIntAsync("/v/missing"));

        var error = await Assert.ThrowsAsync<XenStoreValueException>(() => client.ReadUIntAsync("/v/bad"));
        Assert.Equal("/v/bad", error.Path);
        Assert.Equal("12abc", error.Value);
        Assert.Contains("/v/bad", error.Message);
        await Assert.ThrowsAsync<XenStoreValueException>(() => client.ReadUIntAsync("/v/int"));
        await Assert.ThrowsAsync<XenStoreValueException>(() => client.ReadBoolAsync("/v/int"));
    }

    [Fact]
    public async Task Many_requests_in_flight_are_matched_to_their_replies()
    {
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.WriteAsync($"/many/k{i}", $"v{i}")));

        var values = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.ReadAsync($"/many/k{i}")));

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"v{i}"), values);
    }

    [Fact]
    public async Task Invalid_path_is_refused_before_sending()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => client.ReadAsync("relative/path"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.WriteAsync("/x", new string('v', XenStoreLimits.PayloadMax)));
        Assert.Null(await client.ReadAsync("/still/works"));
    }

    [Fact]
    public async Task Broken_connection_fails_pending_and_later_requests()
    {
        var transaction = await client.StartTransactionAsync();
        var pending = Enumerable.Range(0, 50).Select(i => client.WriteAsync($"/broken/k{i}", "v", transaction)).ToList();

        await server.Server.DisposeAsync();

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
        await Assert.ThrowsAsync<XenStoreConnectionException>(() => client.ReadAsync("/broken/k0"));
    }

    [Fact]
    public async Task Watch_callback_that_throws_breaks_the_connection_visibly()
    {
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await client.WatchAsync("/throwing", "t", _ => throw new InvalidOperationException("callback bug"));
            await client.ReadAsync("/throwing");
        });

        var error = await Assert.ThrowsAsync<XenStoreConnectionException>(() => client.ReadAsync("/throwing"));
        Assert.Contains("callback", error.Message);
    }

    [Fact]
    public async Task Disposed_client_refuses_requests()
    {
        await client.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ReadAsync("/x"));
    }
}
