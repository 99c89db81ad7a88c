using System.Diagnostics;
using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;
using Backend.Xen.Platform.Sim.Netfront;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// SIMXEN "What the daemon promises": on start the daemon re-attaches to every vif whose backend and
/// frontend are both Connected, and the guest does not reconnect. The backend runs in an actor system
/// and platform of its own (<see cref="InProcessDaemon"/>), stopped in an orderly way and started again
/// on the same root while xenstore (the fixture's server) lives on.
/// </summary>
public sealed class DaemonRestartTests : TestKit, IAsyncLifetime
{
    private const int FramesEach = 1500;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly ITestOutputHelper _output;
    private readonly List<InProcessDaemon> _daemons = [];
    private SimBackendFixture _sim = null!;
    private TrafficPair? _pair;
    private static readonly TimeSpan McastTimeout = TimeSpan.FromSeconds(20);
    private readonly List<IAsyncDisposable> _owned = [];

    public DaemonRestartTests(ITestOutputHelper output) : base(@"akka.loglevel = INFO", output) => _output = output;

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
        if (_pair is not null)
            await _pair.DisposeAsync();
        await _sim.DisposeAsync();
    }

    private async Task<InProcessDaemon> StartDaemonAsync(string name)
    {
        var daemon = await InProcessDaemon.StartAsync(_sim, name);
        _daemons.Add(daemon);
        return daemon;
    }

    [Fact]
    public async Task An_orderly_restart_reattaches_without_reconnect_and_delivers_what_was_sent_meanwhile()
    {
        var clock = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var toolstack = new SimToolstack(_sim.XenStore);
        var pair = _pair = await TrafficPair.StartAsync(_sim, toolstack, 1, 2);
        var first = await StartDaemonAsync("xnb-first");
        await pair.ConnectAsync(cts.Token);

        // Any write to a state node after the watch's initial event is a change of state.
        var stateEvents = new int[4];
        var watches = new List<IAsyncDisposable>();
        var paths = pair.Guests.SelectMany(g => new[] { g.Netfront.BackendPath, g.Netfront.FrontendPath }).ToArray();
        for (var i = 0; i < paths.Length; i++)
        {
            var slot = i;
            watches.Add(await _sim.XenStore.WatchAsync($"{paths[i]}/state", $"robust:{i}", _ => Interlocked.Increment(ref stateEvents[slot])));
        }

        var traffic = pair.RunAsync(FramesEach, cts.Token);
        while (pair.A.Receiver.Distinct < FramesEach / 5 || pair.B.Receiver.Distinct < FramesEach / 5)
            await Task.Delay(2, cts.Token);

        // Stop while frames are in flight, with the TX rings answered up to date so that there is room
        // on them for what is sent while no backend runs.
        foreach (var g in pair.Guests)
            g.Pause();
        await AwaitAssertAsync(() => Assert.True(pair.A.Netfront.TxOutstanding == 0 && pair.B.Netfront.TxOutstanding == 0), Timeout);
        await first.StopAsync();
        var stoppedAt = clock.ElapsedMilliseconds;

        // No backend: these go onto the TX rings and wait there.
        foreach (var g in pair.Guests)
            Assert.True(g.Netfront.TrySend(TrafficGuest.Marker(g.PeerMac, g.Mac)), $"guest {g.DomId}'s TX ring should have room");
        var sentWhileDown = pair.Guests.Select(g => g.Sent).ToArray();
        foreach (var g in pair.Guests)
            g.Resume();
        Assert.True(pair.A.Netfront.TxOutstanding > 0 && pair.B.Netfront.TxOutstanding > 0);

        var second = await StartDaemonAsync("xnb-second");
        _output.WriteLine($"no backend for {clock.ElapsedMilliseconds - stoppedAt} ms; sent up to {string.Join('/', sentWhileDown)} before the restart");
        foreach (var g in pair.Guests)
            await AwaitAssertAsync(() => Assert.Equal(2, g.Receiver.MarkersFrom(g.PeerMac)), Timeout); // the hello and the one sent meanwhile

        await traffic.WaitAsync(cts.Token);
        await pair.WaitDeliveredAsync(cts.Token);
        // An orderly stop flushes and loses none (SIMXEN), so no floor here.
        pair.AssertZeroLoss();

        foreach (var g in pair.Guests)
        {
            Assert.Equal(XenbusState.Connected, g.Netfront.State);
            Assert.Equal(XenbusState.Connected, g.Netfront.BackendState);
            Assert.Equal("4", await _sim.XenStore.ReadAsync($"{g.Netfront.BackendPath}/state"));
        }
        for (var i = 0; i < paths.Length; i++)
            Assert.True(Volatile.Read(ref stateEvents[i]) == 1, $"{paths[i]}/state was written {stateEvents[i] - 1} times");
        Assert.All(second.Status.Snapshot(), v => Assert.Equal(nameof(XenbusState.Connected), v.State));
        foreach (var w in watches)
            await w.DisposeAsync();
        _output.WriteLine($"took {clock.ElapsedMilliseconds} ms");
    }

    /// <summary>
    /// Decision 83: the restarted daemon never saw the multicast list the frontend built (it will not send it
    /// again), so the re-attached vif accepts every multicast frame until its frontend connects anew.
    /// </summary>
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
        await AwaitConditionAsync(() => Task.FromResult(after.Carrier), McastTimeout);
        Assert.True(after.Multicast.Lost, "the list was built with another daemon");
        Assert.True(after.Multicast.Control, "request-multicast-control is read again at the re-attach");
        Assert.True(after.Multicast.Accepts(other), "a lost list must not drop the groups the guest joined");

        await netfront.ReconnectAsync(cts.Token);
        await AwaitConditionAsync(() => Task.FromResult(after.Carrier && !after.Multicast.Lost), McastTimeout);
        Assert.False(after.Multicast.Accepts(group), "a new connection starts with an empty list");
        Assert.True(after.Multicast.Control);
    }
}
