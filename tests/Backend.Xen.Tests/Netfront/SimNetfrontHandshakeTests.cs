using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;

namespace Backend.Xen.Tests.Netfront;

public sealed class SimNetfrontHandshakeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static byte[] Pattern(int length, int seed)
    {
        var frame = new byte[length];
        for (var i = 0; i < length; i++)
            frame[i] = (byte)(i * 7 + seed);
        return frame;
    }

    [Fact]
    public async Task Netfront_connects_to_a_minimal_backend_and_frames_cross_both_ways()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        await new SimToolstack(store).CreateVifAsync(new SimVifSpec { GuestDomId = 5, Handle = 0, Mac = "00:16:3e:00:00:05" });
        await using var backend = new MinimalNetback(sim.Root, await sim.ConnectAsync(), 5, 0);
        var consumer = new RecordingConsumer();
        await using var front = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = sim.Root, DomId = 5 }, await sim.ConnectAsync(), consumer);

        await backend.InitWaitAsync();
        await backend.ConnectAsync(Timeout);
        using (var cts = new CancellationTokenSource(Timeout))
            await front.WaitForConnectedAsync(cts.Token);

        var fe = backend.FrontendPath;
        Assert.Equal("1", await store.ReadAsync(fe + "/feature-rx-notify"));
        Assert.Equal("1", await store.ReadAsync(fe + "/feature-sg"));
        Assert.Null(await store.ReadAsync(fe + "/event-channel-tx"));
        Assert.True(front.SgNegotiated);

        // Three slots: 4096 + 4096 + 808.
        var sent = Pattern(9000, 3);
        Assert.True(front.TrySend(sent));
        var got = await backend.ReceiveTxFrameAsync(Timeout);
        Assert.Equal(sent, got);

        var back = Pattern(5000, 11);
        await backend.DeliverRxFrameAsync(back, Timeout);
        var (frame, info) = await consumer.NextAsync(Timeout);
        Assert.Equal(back, frame);
        Assert.Equal(2, info.Slots);

        // The TX grants come back once the responses are collected (the backend notified us).
        using (var cts = new CancellationTokenSource(Timeout))
        {
            while (front.TxOutstanding != 0)
                await Task.Delay(1, cts.Token);
        }
        var counters = front.Counters;
        Assert.Equal(1, counters.Sent);
        Assert.Equal(1, counters.Received);
        Assert.Equal(0, counters.TxErrors);
        Assert.Equal(0, counters.RxErrors);
        // The notification travels on its own (bitmap, datagram, the backend's receive thread), and this
        // backend polls its ring rather than waiting for it: allow it to arrive after the frames did.
        using (var cts = new CancellationTokenSource(Timeout))
        {
            while (Volatile.Read(ref backend.Events) == 0 && !cts.IsCancellationRequested)
                await Task.Delay(1);
        }
        Assert.True(Volatile.Read(ref backend.Events) > 0, "the netfront never notified the backend");
    }

    [Fact]
    public async Task Netfront_closes_when_told_and_frees_its_ring_grants_after_the_backend_is_closed()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        await new SimToolstack(store).CreateVifAsync(new SimVifSpec { GuestDomId = 6, Handle = 0, Mac = "00:16:3e:00:00:06" });
        await using var backend = new MinimalNetback(sim.Root, await sim.ConnectAsync(), 6, 0);
        await using var front = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = sim.Root, DomId = 6 }, await sim.ConnectAsync());
        await backend.InitWaitAsync();
        await backend.ConnectAsync(Timeout);
        using var cts = new CancellationTokenSource(Timeout);
        await front.WaitForConnectedAsync(cts.Token);
        var txRef = uint.Parse((await store.ReadAsync(backend.FrontendPath + "/tx-ring-ref"))!);

        var closing = front.CloseAsync(cts.Token);
        await WatchedValue.WaitForAsync(store, backend.FrontendPath + "/state", "5", Timeout);
        backend.Disconnect();
        await backend.SetStateAsync(5);
        await WatchedValue.WaitForAsync(store, backend.FrontendPath + "/state", "6", Timeout);
        Assert.False(closing.IsCompleted, "the netfront freed its rings before the backend was Closed");
        await backend.SetStateAsync(6);
        await closing;

        Assert.Equal(XenbusState.Closed, front.State);
        Assert.Equal(0, front.Domain.Granter!.ReadEntry(txRef).Flags);
    }

    [Fact]
    public async Task Netfront_follows_a_closing_backend_to_closed_and_reconnects_with_fresh_rings()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        await new SimToolstack(store).CreateVifAsync(new SimVifSpec { GuestDomId = 7, Handle = 0, Mac = "00:16:3e:00:00:07" });
        await using var backend = new MinimalNetback(sim.Root, await sim.ConnectAsync(), 7, 0);
        await using var front = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = sim.Root, DomId = 7 }, await sim.ConnectAsync());
        await backend.InitWaitAsync();
        await backend.ConnectAsync(Timeout);
        using var cts = new CancellationTokenSource(Timeout);
        await front.WaitForConnectedAsync(cts.Token);

        backend.Disconnect();
        await backend.SetStateAsync(5);
        await WatchedValue.WaitForAsync(store, backend.FrontendPath + "/state", "6", Timeout);
        await backend.SetStateAsync(6);
        await front.WaitForBackendStateAsync(s => s == XenbusState.Closed, cts.Token);

        var reconnect = front.ReconnectAsync(cts.Token);
        await WatchedValue.WaitForAsync(store, backend.FrontendPath + "/state", "1", Timeout);
        await backend.InitWaitAsync();
        await backend.ConnectAsync(Timeout);
        await reconnect;

        var sent = Pattern(60, 1);
        Assert.True(front.TrySend(sent));
        Assert.Equal(sent, await backend.ReceiveTxFrameAsync(Timeout));
    }

    [Fact]
    public async Task A_stale_closed_backend_at_start_does_not_close_a_new_netfront()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        await new SimToolstack(store).CreateVifAsync(new SimVifSpec { GuestDomId = 8, Handle = 0, Mac = "00:16:3e:00:00:08" });
        await using var backend = new MinimalNetback(sim.Root, await sim.ConnectAsync(), 8, 0);
        await backend.SetStateAsync(6);
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var watcher = await sim.ConnectAsync();
        await using var watch = await watcher.WatchAsync(backend.FrontendPath + "/state", "t", _ => seen.Enqueue(null));
        await using var front = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = sim.Root, DomId = 8 }, await sim.ConnectAsync());
        using var cts = new CancellationTokenSource(Timeout);
        await front.WaitForBackendStateAsync(s => s == XenbusState.Closed, cts.Token);

        await backend.InitWaitAsync();
        await backend.ConnectAsync(Timeout);
        await front.WaitForConnectedAsync(cts.Token);
        // Watch events: the initial one, then only the write of Connected (4): never Closing or Closed.
        while (seen.Count < 2)
            await Task.Delay(1, cts.Token);
        await Task.Delay(20);
        Assert.Equal(2, seen.Count);
        Assert.Equal("4", await store.ReadAsync(backend.FrontendPath + "/state"));
    }

    [Fact]
    public async Task A_removed_vif_makes_the_netfront_let_go_without_writing_into_the_removed_dir()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        var toolstack = new SimToolstack(store);
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 4, Handle = 0, Mac = "00:16:3e:00:00:04" });
        await using var backend = new MinimalNetback(sim.Root, await sim.ConnectAsync(), 4, 0);
        await using var front = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = sim.Root, DomId = 4 }, await sim.ConnectAsync());
        await backend.InitWaitAsync();
        await backend.ConnectAsync(Timeout);
        using var cts = new CancellationTokenSource(Timeout);
        await front.WaitForConnectedAsync(cts.Token);

        backend.Disconnect();
        await toolstack.RemoveVifAsync(4, 0);
        await front.WaitForBackendStateAsync(s => s == XenbusState.Unknown, cts.Token);
        while (front.State != XenbusState.Closed)
            await Task.Delay(1, cts.Token);
        Assert.False(front.IsConnected);
        Assert.Null(await store.ReadAsync(backend.FrontendPath));
        Assert.Null(await store.ReadAsync(backend.BackendPath));
    }
}
