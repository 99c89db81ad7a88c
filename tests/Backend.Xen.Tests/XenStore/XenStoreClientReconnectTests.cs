using System.Net.Sockets;
using System.Threading.Channels;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.XenStore;

/// <summary>
/// A client that connects again when xenstore drops it (a slow reader dropped, xenstored restarted): what
/// was in flight fails, its watches are set again and fire once more, and it is served as before.
/// </summary>
public sealed class XenStoreClientReconnectTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static async Task<XenStoreWatchEvent> NextEventAsync(ChannelReader<XenStoreWatchEvent> events, string expectedPath)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            var watchEvent = await events.ReadAsync(timeout.Token);
            Assert.Equal(expectedPath, watchEvent.Path);
            return watchEvent;
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"no watch event for {expectedPath} within {Timeout}");
            throw;
        }
    }

    private static async Task ReconnectedAsync(XenStoreClient client)
    {
        // Nothing to await: the client says it is back only through its counter.
        using var timeout = new CancellationTokenSource(Timeout);
        while (client.Reconnects == 0)
        {
            if (timeout.IsCancellationRequested)
                Assert.Fail($"the client did not connect again within {Timeout}");
            await Task.Delay(1);
        }
    }

    [Fact]
    public async Task Client_dropped_by_the_server_connects_again_sets_its_watches_again_and_is_served()
    {
        await using var server = await XenStoreTestServer.StartAsync();
        await using var client = await XenStoreClient.ConnectAsync(server.SocketPath, reconnect: true);
        await using var bystander = await server.ConnectAsync();
        var events = Channel.CreateUnbounded<XenStoreWatchEvent>();
        var watch = await client.WatchAsync("/watched", "token", e => events.Writer.TryWrite(e));
        await NextEventAsync(events.Reader, "/watched");
        await bystander.WriteAsync("/watched/before", "1");
        await NextEventAsync(events.Reader, "/watched/before");

        Assert.Equal(1, server.Server.DropConnectionsWatching("/watched"));

        // Set again on the new connection, the watch fires its initial event again: its user re-reads.
        await NextEventAsync(events.Reader, "/watched");
        await client.WriteAsync("/after", "reconnect");
        Assert.Equal(1, client.Reconnects);
        Assert.Equal("reconnect", await client.ReadAsync("/after"));
        await bystander.WriteAsync("/watched/after", "2");
        await NextEventAsync(events.Reader, "/watched/after");

        // Set once on the new connection, not twice: after UNWATCH nothing fires.
        await watch.DisposeAsync();
        await bystander.WriteAsync("/watched/gone", "3");
        await client.ReadAsync("/after");
        Assert.False(events.Reader.TryRead(out var stray), $"an event after UNWATCH: {stray}");
        Assert.Equal(0, client.WatchesLost);
    }

    [Fact]
    public async Task Server_that_restarts_under_every_client_keeps_its_tree_aborts_their_transactions_and_serves_them_again()
    {
        await using var server = await XenStoreTestServer.StartAsync();
        await using var first = await XenStoreClient.ConnectAsync(server.SocketPath, reconnect: true);
        await using var second = await XenStoreClient.ConnectAsync(server.SocketPath, reconnect: true);
        var events = Channel.CreateUnbounded<XenStoreWatchEvent>();
        await using var watch = await first.WatchAsync("/watched", "token", e => events.Writer.TryWrite(e));
        await NextEventAsync(events.Reader, "/watched");
        await first.WriteAsync("/kept", "before");
        var transaction = await second.StartTransactionAsync();
        await second.WriteAsync("/uncommitted", "lost", transaction);
        var accepted = server.Server.Statistics.ConnectionsAccepted;

        Assert.Equal(2, server.Server.DropEveryConnection());

        // Both come back (and nobody else was counted), the watch is set again and fires again. The first's
        // event says nothing of the second: a request it sends before its reader has seen the close goes
        // on the dropped connection and fails, as a request in flight must (run 1 of a repeated suite did).
        await NextEventAsync(events.Reader, "/watched");
        await ReconnectedAsync(first);
        await ReconnectedAsync(second);
        Assert.Equal("before", await second.ReadAsync("/kept"));
        Assert.Equal(accepted + 2, server.Server.Statistics.ConnectionsAccepted);
        Assert.Equal(1, first.Reconnects);
        Assert.Equal(1, second.Reconnects);
        // The transaction died with its connection: what it wrote never lands, and committing it fails.
        Assert.Null(await first.ReadAsync("/uncommitted"));
        await Assert.ThrowsAsync<XenStoreConnectionException>(() => second.EndTransactionAsync(transaction, commit: true));
        Assert.Null(await first.ReadAsync("/uncommitted"));
        await second.WriteAsync("/watched/after", "1");
        await NextEventAsync(events.Reader, "/watched/after");
    }

    [Fact]
    public async Task Request_in_flight_fails_and_requests_made_meanwhile_wait_until_the_watches_are_set_again()
    {
        var directory = Directory.CreateTempSubdirectory("xnb-xsr-");
        var path = Path.Combine(directory.FullName, "peer.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        try
        {
            await using var client = new XenStoreClient(await ConnectAsync(CancellationToken.None), ConnectAsync);
            using var first = RawXenStoreConnection.Accepted(await listener.AcceptAsync());
            var events = Channel.CreateUnbounded<XenStoreWatchEvent>();
            var watching = client.WatchAsync("/w", "token", e => events.Writer.TryWrite(e));
            var (watchRequest, watchText) = await first.ReceiveTextAsync();
            Assert.Equal(XenStoreMessageType.Watch, watchRequest.Type);
            Assert.Equal("/w\0token\0", watchText);
            await first.SendAsync(XenStoreMessageType.Watch, watchRequest.RequestId, RawXenStoreConnection.Strings("OK"));
            await first.SendAsync(XenStoreMessageType.WatchEvent, 0, RawXenStoreConnection.Strings("/w", "token"));
            await watching;
            await NextEventAsync(events.Reader, "/w");
            var starting = client.StartTransactionAsync();
            var (startRequest, _) = await first.ReceiveTextAsync();
            await first.SendAsync(XenStoreMessageType.TransactionStart, startRequest.RequestId, RawXenStoreConnection.Strings("7"));
            var transaction = await starting;

            var inFlight = client.ReadAsync("/a");
            Assert.Equal(XenStoreMessageType.Read, (await first.ReceiveTextAsync()).Header.Type);
            first.Socket.Close();

            await Assert.ThrowsAsync<XenStoreConnectionException>(() => inFlight.WaitAsync(Timeout));
            using var second = RawXenStoreConnection.Accepted(await listener.AcceptAsync().WaitAsync(Timeout));
            var meanwhile = client.ReadAsync("/b");
            // The watch goes first; the request made meanwhile waits for it to be answered.
            var (again, againText) = await second.ReceiveTextAsync();
            Assert.Equal(XenStoreMessageType.Watch, again.Type);
            Assert.Equal("/w\0token\0", againText);
            Assert.False(meanwhile.IsCompleted);
            await second.SendAsync(XenStoreMessageType.Watch, again.RequestId, RawXenStoreConnection.Strings("OK"));
            await second.SendAsync(XenStoreMessageType.WatchEvent, 0, RawXenStoreConnection.Strings("/w", "token"));
            await NextEventAsync(events.Reader, "/w");
            var (read, readText) = await second.ReceiveTextAsync();
            Assert.Equal(XenStoreMessageType.Read, read.Type);
            Assert.Equal("/b\0", readText);
            await second.SendAsync(XenStoreMessageType.Read, read.RequestId, "value"u8.ToArray());
            Assert.Equal("value", await meanwhile.WaitAsync(Timeout));

            // The transaction went with the first connection: it fails without reaching the second.
            await Assert.ThrowsAsync<XenStoreConnectionException>(() => client.ReadAsync("/a", transaction));
            var next = client.ReadAsync("/c");
            var (following, followingText) = await second.ReceiveTextAsync();
            Assert.Equal("/c\0", followingText);
            await second.SendAsync(XenStoreMessageType.Read, following.RequestId, "c"u8.ToArray());
            Assert.Equal("c", await next.WaitAsync(Timeout));
            Assert.Equal(1, client.Reconnects);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Requests_made_while_xenstored_restarts_are_served_by_the_new_one()
    {
        var server = await XenStoreTestServer.StartAsync();
        var socketPath = server.SocketPath;
        var directory = Path.GetDirectoryName(socketPath)!;
        await using var client = await XenStoreClient.ConnectAsync(socketPath, reconnect: true);
        var events = Channel.CreateUnbounded<XenStoreWatchEvent>();
        await client.WatchAsync("/watched", "token", e => events.Writer.TryWrite(e));
        await NextEventAsync(events.Reader, "/watched");

        // XenStoreTestServer removes its directory when disposed; the restarted server needs it back.
        await server.DisposeAsync();
        var waiting = client.WriteAsync("/written", "while away");
        Directory.CreateDirectory(directory);
        await using var restarted = await Backend.Xen.XenStore.Server.XenStoreServer.StartAsync(socketPath);
        try
        {
            await waiting.WaitAsync(Timeout);
            await NextEventAsync(events.Reader, "/watched");
            Assert.Equal("while away", await client.ReadAsync("/written"));
        }
        finally
        {
            await restarted.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Disposing_a_client_that_waits_for_xenstore_fails_what_waits()
    {
        var server = await XenStoreTestServer.StartAsync();
        var client = await XenStoreClient.ConnectAsync(server.SocketPath, reconnect: true);
        await server.DisposeAsync();
        var waiting = client.ReadAsync("/x");

        await client.DisposeAsync().AsTask().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(Timeout));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ReadAsync("/x"));
    }

    [Fact]
    public async Task Client_without_reconnect_stays_broken()
    {
        await using var server = await XenStoreTestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.WatchAsync("/watched", "token", _ => { });

        Assert.Equal(1, server.Server.DropConnectionsWatching("/watched"));

        var failure = await Assert.ThrowsAsync<XenStoreConnectionException>(async () =>
        {
            using var timeout = new CancellationTokenSource(Timeout);
            while (!timeout.IsCancellationRequested)
            {
                await client.ReadAsync("/watched");
                await Task.Delay(10, timeout.Token);
            }
        });
        Assert.Contains("broken", failure.Message);
        Assert.Equal(0, client.Reconnects);
    }
}
