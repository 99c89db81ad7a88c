using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// The daemon's one xenstore connection lost mid-run (the server drops a client whose queue passes its
/// bound; xenstored may restart): the daemon connects again, its watches fire again, vifs created
/// afterwards are served, and the vifs already connected keep passing traffic meanwhile.
/// </summary>
public sealed class XenStoreConnectionLossTests : TestKit, IAsyncLifetime
{
    private const int FramesEach = 1500;
    private readonly List<IAsyncDisposable> _disposables = [];
    private SimBackendFixture _sim = null!;

    public XenStoreConnectionLossTests(ITestOutputHelper output) : base(@"akka.loglevel = INFO", output)
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        // Domain 0 belongs to the daemon this test starts, not to the fixture.
        await _sim.Platform.DisposeAsync();
    }

    public async Task DisposeAsync()
    {
        for (var i = _disposables.Count - 1; i >= 0; i--)
            await _disposables[i].DisposeAsync();
        await _sim.DisposeAsync();
    }

    [Fact]
    public async Task Daemon_whose_xenstore_connection_is_dropped_serves_a_new_vif_and_keeps_the_old_ones_passing_traffic()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var daemon = await InProcessDaemon.StartAsync(_sim, "xnb-xs-loss");
        _disposables.Add(daemon);
        var toolstack = new SimToolstack(_sim.XenStore);
        var pair = await TrafficPair.StartAsync(_sim, toolstack, 1, 2);
        _disposables.Add(pair);
        await pair.ConnectAsync(cts.Token);
        var traffic = pair.RunAsync(FramesEach, cts.Token);
        while (pair.A.Receiver.Distinct < FramesEach / 5 || pair.B.Receiver.Distinct < FramesEach / 5)
            await Task.Delay(2, cts.Token);

        // Dropped as the server drops a slow reader: the connection is the one watching backend/vif.
        Assert.Equal(1, _sim.Server.DropConnectionsWatching("/local/domain/0/backend/vif"));

        var later = await TrafficPair.StartAsync(_sim, toolstack, 3, 4);
        _disposables.Add(later);
        await later.ConnectAsync(cts.Token);
        foreach (var g in later.Guests)
        {
            Assert.Equal(XenbusState.Connected, g.Netfront.BackendState);
            Assert.Equal("4", await _sim.XenStore.ReadAsync($"{g.Netfront.BackendPath}/state", cancellationToken: cts.Token));
        }

        await traffic.WaitAsync(cts.Token);
        await pair.WaitDeliveredAsync(cts.Token);
        pair.AssertZeroLoss();
        foreach (var g in pair.Guests)
            Assert.Equal(XenbusState.Connected, g.Netfront.BackendState);
        Assert.Equal(1, ((XenStoreClient)daemon.XenStore).Reconnects);
        Assert.All(daemon.Status.Snapshot(), v => Assert.Equal(nameof(XenbusState.Connected), v.State));
    }
}
