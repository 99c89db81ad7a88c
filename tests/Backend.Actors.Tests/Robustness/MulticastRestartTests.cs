using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// Decision 83: a daemon that starts again under a connected frontend never saw the multicast list it
/// built (the frontend will not send it again), so the re-attached vif accepts every multicast frame
/// until its frontend connects anew; a new connection filters again.
/// </summary>
public sealed class MulticastRestartTests : TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly List<InProcessDaemon> _daemons = [];
    private readonly List<IAsyncDisposable> _owned = [];
    private SimBackendFixture _sim = null!;

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        // Domain 0 belongs to the daemons this test starts, not to the fixture.
        await _sim.Platform.DisposeAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
            await owned.DisposeAsync();
        foreach (var d in _daemons)
            await d.DisposeAsync();
        await _sim.DisposeAsync();
    }

    private async Task<InProcessDaemon> StartDaemonAsync(string name)
    {
        var daemon = await InProcessDaemon.StartAsync(_sim, name);
        _daemons.Add(daemon);
        return daemon;
    }

    [Fact]
    public async Task A_daemon_restarted_under_a_connected_frontend_accepts_all_multicast_until_the_frontend_reconnects()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        const ushort guest = 71;
        await new SimToolstack(_sim.XenStore).CreateVifAsync(new SimVifSpec { GuestDomId = guest, Handle = 0, Mac = "00:16:3e:00:00:47" });
        var store = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _owned.Add(store);
        var netfront = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = _sim.Root, DomId = guest, RequestMulticastControl = true }, store, cancellationToken: cts.Token);
        _owned.Insert(0, netfront);
        var group = new MacAddress(0x01005E0000FB);
        var other = new MacAddress(0x01005E000001);

        var first = await StartDaemonAsync("xnb-mcast-first");
        await netfront.WaitForConnectedAsync(cts.Token);
        Assert.Equal(NetifResponseStatus.Okay, await netfront.SendMulticastControlAsync(NetifExtraType.MulticastAdd, group, cts.Token));
        var before = first.Status.GetOrAdd(new Xen.Xenbus.VifId(guest, 0)).Multicast;
        Assert.True(before.Control);
        Assert.False(before.Accepts(other));

        await first.StopAsync();
        var second = await StartDaemonAsync("xnb-mcast-second");
        var after = second.Status.GetOrAdd(new Xen.Xenbus.VifId(guest, 0));
        await AwaitConditionAsync(() => Task.FromResult(after.Carrier), Timeout);
        Assert.True(after.Multicast.Lost, "the list was built with another daemon");
        Assert.True(after.Multicast.Control, "request-multicast-control is read again at the re-attach");
        Assert.True(after.Multicast.Accepts(other), "a lost list must not drop the groups the guest joined");

        await netfront.ReconnectAsync(cts.Token);
        await AwaitConditionAsync(() => Task.FromResult(after.Carrier && !after.Multicast.Lost), Timeout);
        Assert.False(after.Multicast.Accepts(group), "a new connection starts with an empty list");
        Assert.True(after.Multicast.Control);
    }
}
