using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Parity;

/// <summary>
/// Reconfiguring as Linux netback's <c>frontend_changed</c> handles it (issue 15, item 8): Reconfiguring from
/// the frontend is answered Reconfigured (after re-reading <c>xdp-headroom</c>: XdpHeadroomTests) and the
/// data path goes on; Reconfigured from a frontend is its default case, <c>xenbus_dev_fatal</c>. A
/// daemon that starts again under a frontend left Reconfiguring attaches its rings again.
/// </summary>
public sealed class ReconfiguringTests : TestKit, IAsyncLifetime
{
    private const int Frames = 100;

    private readonly List<RateGuest> _guests = [];
    private readonly List<InProcessDaemon> _daemons = [];
    private SimBackendFixture _sim = null!;

    public ReconfiguringTests(ITestOutputHelper output) : base("akka.loglevel = INFO", output)
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        await _sim.Platform.DisposeAsync();
        _daemons.Add(await InProcessDaemon.StartAsync(_sim, "xnb-reconf"));
    }

    public async Task DisposeAsync()
    {
        foreach (var d in _daemons)
            await d.DisposeAsync();
        foreach (var g in _guests)
            await g.DisposeAsync();
        await _sim.DisposeAsync();
    }

    private async Task<(RateGuest A, RateGuest B)> PairAsync(ushort a, ushort b, CancellationToken ct)
    {
        var ga = await RateGuest.StartAsync(_sim, a, "reconf");
        _guests.Add(ga);
        var gb = await RateGuest.StartAsync(_sim, b, "reconf");
        _guests.Add(gb);
        await ga.Netfront.WaitForConnectedAsync(ct);
        await gb.Netfront.WaitForConnectedAsync(ct);
        await ga.SendHelloAsync(ct);
        await gb.SendHelloAsync(ct);
        return (ga, gb);
    }

    /// <summary>Frames both ways; waits until each side has <paramref name="total"/> in all.</summary>
    private async Task ExchangeAsync(RateGuest a, RateGuest b, long total, CancellationToken ct)
    {
        await a.SendAsync(b.DomId, Frames, ct);
        await b.SendAsync(a.DomId, Frames, ct);
        await AwaitAssertAsync(() => Assert.True(a.Frames == total && b.Frames == total, $"received {a.Frames} and {b.Frames} of {total}"), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Reconfiguring_is_answered_Reconfigured_and_the_data_path_goes_on()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (a, b) = await PairAsync(61, 62, cts.Token);
        await ExchangeAsync(a, b, Frames, cts.Token);

        await a.Netfront.ReconfigureAsync(cancellationToken: cts.Token);

        Assert.Equal("8", await _sim.XenStore.ReadAsync($"{SimToolstack.BackendPath(0, 61, 0)}/state"));
        await ExchangeAsync(a, b, 2 * Frames, cts.Token);
        Assert.Equal(XenbusState.Reconfiguring, a.Netfront.State);
        Assert.Null(a.Netfront.RingBroken);
        Assert.False(_daemons[0].Status.Snapshot().Single(v => v.Id.DomId == 61).Disabled);
    }

    [Fact]
    public async Task A_daemon_started_again_under_a_frontend_left_Reconfiguring_attaches_its_rings_again()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (a, b) = await PairAsync(63, 64, cts.Token);
        await a.Netfront.ReconfigureAsync(cancellationToken: cts.Token);
        await ExchangeAsync(a, b, Frames, cts.Token);

        await _daemons[0].StopAsync();
        _daemons.Add(await InProcessDaemon.StartAsync(_sim, "xnb-reconf-again"));

        await ExchangeAsync(a, b, 2 * Frames, cts.Token);
        Assert.Equal("8", await _sim.XenStore.ReadAsync($"{SimToolstack.BackendPath(0, 63, 0)}/state"));
        Assert.Equal(XenbusState.Reconfiguring, a.Netfront.State);
    }

    [Fact]
    public async Task A_frontend_that_writes_Reconfigured_is_failed_as_Linux_does()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (a, _) = await PairAsync(65, 66, cts.Token);

        await _sim.XenStore.WriteAsync($"{SimToolstack.FrontendPath(65, 0)}/state", "8");

        await AwaitAssertAsync(async () =>
            Assert.Equal("saw state 8 at frontend", await _sim.XenStore.ReadAsync($"{SimToolstack.ErrorPath(0, 65, 0)}/error")), TimeSpan.FromSeconds(10));
        await a.Netfront.WaitForBackendStateAsync(s => s is XenbusState.Closing or XenbusState.Closed, cts.Token);
    }
}
