using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;

namespace Backend.Xen.Tests.Netfront;

/// <summary>The xenbus life of our netfront against the C reference netback: reconnect, unplug, offline.</summary>
public sealed class SimNetfrontCbackLifecycleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private sealed class Pair : IAsyncDisposable
    {
        public required SimTestRoot Sim { get; init; }
        public required CbackProcess Cback { get; init; }
        public required SimToolstack Toolstack { get; init; }
        public required Backend.Xen.XenStore.IXenStore Store { get; init; }
        public required SimNetfront One { get; init; }
        public required SimNetfront Two { get; init; }
        public required CheckingConsumer AtOne { get; init; }
        public required CheckingConsumer AtTwo { get; init; }

        public static async Task<Pair> StartAsync()
        {
            var build = SimxenCReference.Build();
            var sim = await SimTestRoot.WithXenStoreAsync();
            CbackProcess? cback = null;
            try
            {
                cback = await CbackProcess.StartAsync(build, sim.Path, Timeout);
                var store = await sim.ConnectAsync();
                var toolstack = new SimToolstack(store);
                await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 1, Handle = 0, Mac = "00:16:3e:00:00:01" });
                await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 2, Handle = 0, Mac = "00:16:3e:00:00:02" });
                var atOne = new CheckingConsumer(100);
                var atTwo = new CheckingConsumer(100);
                var one = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = sim.Root, DomId = 1 }, await sim.ConnectAsync(), atOne);
                var two = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = sim.Root, DomId = 2 }, await sim.ConnectAsync(), atTwo);
                using var cts = new CancellationTokenSource(Timeout);
                await one.WaitForConnectedAsync(cts.Token);
                await two.WaitForConnectedAsync(cts.Token);
                return new Pair { Sim = sim, Cback = cback, Toolstack = toolstack, Store = store, One = one, Two = two, AtOne = atOne, AtTwo = atTwo };
            }
            catch
            {
                if (cback is not null)
                    await cback.DisposeAsync();
                await sim.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await One.DisposeAsync();
            await Two.DisposeAsync();
            await Cback.DisposeAsync();
            await Sim.DisposeAsync();
        }
    }

    private static async Task SendCheckedAsync(SimNetfront from, SimNetfront to, CheckingConsumer at, int count, CancellationToken ct)
    {
        // The bridge forgets a vif's MAC when it disconnects: announce first, as after any connect.
        var broadcast = new byte[60];
        broadcast.AsSpan(0, 6).Fill(0xff);
        from.Mac.Span.CopyTo(broadcast.AsSpan(6));
        await from.SendAsync(broadcast, default, ct);
        var frame = new byte[1400]; // the vifs have the default MTU of 1500
        var good = at.Good;
        for (var i = 0; i < count; i++)
        {
            CheckedFrames.Write(frame, to.Mac.Span, from.Mac.Span, (uint)i);
            await from.SendAsync(frame, default, ct);
        }
        while (at.Good < good + count)
            await at.WaitAsync(ct);
    }

    [SkippableFact]
    public async Task A_netfront_that_closed_reconnects_to_cback_with_fresh_rings_and_frames_flow_again()
    {
        await using var p = await Pair.StartAsync();
        using var cts = new CancellationTokenSource(Timeout);
        var oldTxRef = await p.Store.ReadAsync(SimToolstack.FrontendPath(1, 0) + "/tx-ring-ref");

        await p.One.CloseAsync(cts.Token);
        Assert.Equal("6", await p.Store.ReadAsync(SimToolstack.BackendPath(0, 1, 0) + "/state"));
        await p.One.ReconnectAsync(cts.Token);
        Assert.Equal("4", await p.Store.ReadAsync(SimToolstack.BackendPath(0, 1, 0) + "/state"));
        Assert.NotEqual(oldTxRef, await p.Store.ReadAsync(SimToolstack.FrontendPath(1, 0) + "/tx-ring-ref"));

        await SendCheckedAsync(p.Two, p.One, p.AtOne, 20, cts.Token);
        await SendCheckedAsync(p.One, p.Two, p.AtTwo, 20, cts.Token);
        Assert.Equal(0, p.AtOne.Damaged + p.AtTwo.Damaged);
        Assert.False(p.Cback.HasExited, p.Cback.Log);
    }

    [SkippableFact]
    public async Task Libxl_style_unplug_closes_the_netfront_and_cback_forgets_the_vif()
    {
        await using var p = await Pair.StartAsync();
        using var cts = new CancellationTokenSource(Timeout);
        var txRef = uint.Parse((await p.Store.ReadAsync(SimToolstack.FrontendPath(1, 0) + "/tx-ring-ref"))!);

        await p.Toolstack.UnplugVifAsync(1, 0, cancellationToken: cts.Token);
        await WatchedValue.WaitForAsync(p.Store, SimToolstack.FrontendPath(1, 0) + "/state", "6", Timeout);
        await p.One.WaitForBackendStateAsync(s => s == XenbusState.Closed, cts.Token);
        Assert.Equal(XenbusState.Closed, p.One.State);
        Assert.False(p.One.IsConnected);
        Assert.Throws<InvalidOperationException>(() => p.One.TrySend(new byte[60]));
        // The ring pages were given back once the backend was Closed.
        while (p.One.Domain.Granter!.ReadEntry(txRef).Flags != 0)
            await Task.Delay(1, cts.Token);
        while (!p.Cback.Log.Contains("vif 1.0 removed", StringComparison.Ordinal))
            await Task.Delay(5, cts.Token);

        // The other guest is untouched.
        Assert.True(p.Two.IsConnected);
        Assert.Equal("4", await p.Store.ReadAsync(SimToolstack.BackendPath(0, 2, 0) + "/state"));
    }

    [SkippableFact]
    public async Task Offline_then_close_makes_cback_forget_the_vif_as_sxtool_offline_expects()
    {
        await using var p = await Pair.StartAsync();
        using var cts = new CancellationTokenSource(Timeout);
        await p.Toolstack.SetOfflineAsync(2, 0, cancellationToken: cts.Token);
        Assert.True(p.Two.IsConnected, "online=0 alone must not disturb a connected vif");
        await p.Two.CloseAsync(cts.Token);
        while (!p.Cback.Log.Contains("vif 2.0 removed", StringComparison.Ordinal))
            await Task.Delay(5, cts.Token);
        Assert.True(p.One.IsConnected);
    }
}
