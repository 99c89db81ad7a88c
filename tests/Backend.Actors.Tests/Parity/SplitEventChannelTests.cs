using System.Globalization;
using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Parity;

/// <summary>
/// Split event channels against the daemon (issue 15, item 8): a netfront with <c>event-channel-tx</c> and
/// <c>-rx</c> exchanges frames both ways with each ring on its own port, and one that writes both styles
/// gets the split ports, as from Linux netback.
/// </summary>
public sealed class SplitEventChannelTests : TestKit, IAsyncLifetime
{
    private const int Frames = 200;

    private readonly List<RateGuest> _guests = [];
    private SimBackendFixture _sim = null!;
    private InProcessDaemon _daemon = null!;

    public SplitEventChannelTests(ITestOutputHelper output) : base("akka.loglevel = INFO", output)
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        await _sim.Platform.DisposeAsync();
        _daemon = await InProcessDaemon.StartAsync(_sim, "xnb-split");
    }

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        foreach (var g in _guests)
            await g.DisposeAsync();
        await _sim.DisposeAsync();
    }

    private async Task<(RateGuest A, RateGuest B)> PairAsync(ushort a, ushort b, bool bothStyles, CancellationToken ct)
    {
        var options = new SimNetfrontOptions { Root = _sim.Root, DomId = a, SplitEventChannels = true, AlsoWriteSingleEventChannel = bothStyles };
        var ga = await RateGuest.StartAsync(_sim, a, "split", options: options);
        _guests.Add(ga);
        var gb = await RateGuest.StartAsync(_sim, b, "split", options: options);
        _guests.Add(gb);
        await ga.Netfront.WaitForConnectedAsync(ct);
        await gb.Netfront.WaitForConnectedAsync(ct);
        await ga.SendHelloAsync(ct);
        await gb.SendHelloAsync(ct);
        return (ga, gb);
    }

    private static async Task ExchangeAsync(RateGuest a, RateGuest b, CancellationToken ct)
    {
        await a.SendAsync(b.DomId, Frames, ct);
        await b.SendAsync(a.DomId, Frames, ct);
    }

    private async Task<uint> FrontendUIntAsync(ushort guest, string key) =>
        uint.Parse((await _sim.XenStore.ReadAsync($"{SimToolstack.FrontendPath(guest, 0)}/{key}"))!, CultureInfo.InvariantCulture);

    /// <summary>Both of the guest's ports are bound, each to a port of its own in domain 0.</summary>
    private async Task AssertSplitBindingAsync(RateGuest g)
    {
        Assert.True(g.Netfront.SplitEventChannels, $"guest {g.DomId} did not negotiate split event channels");
        var tx = SimDomainFiles.EventChannel(_sim.Root, g.DomId, await FrontendUIntAsync(g.DomId, "event-channel-tx"));
        var rx = SimDomainFiles.EventChannel(_sim.Root, g.DomId, await FrontendUIntAsync(g.DomId, "event-channel-rx"));
        Assert.True(tx.IsInterdomain && rx.IsInterdomain, $"guest {g.DomId}'s ports: tx {tx}, rx {rx}");
        Assert.Equal((ushort)0, tx.PeerDomId);
        Assert.NotEqual(tx.PeerPort, rx.PeerPort);
        var status = _daemon.Status.Snapshot().Single(v => v.Id.DomId == g.DomId);
        Assert.Contains("split-event-channels", status.Features, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_frontend_with_split_event_channels_exchanges_frames_both_ways_on_two_ports()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (a, b) = await PairAsync(51, 52, bothStyles: false, cts.Token);
        await ExchangeAsync(a, b, cts.Token);
        await AwaitAssertAsync(() => Assert.True(a.Frames == Frames && b.Frames == Frames, $"received {a.Frames} and {b.Frames} of {Frames}"), TimeSpan.FromSeconds(20));
        await AssertSplitBindingAsync(a);
        await AssertSplitBindingAsync(b);
        Assert.Null(await _sim.XenStore.ReadAsync($"{SimToolstack.FrontendPath(51, 0)}/event-channel"));
    }

    [Fact]
    public async Task A_frontend_that_writes_both_styles_gets_the_split_ports()
    {
        // The single key names the TX port: a backend that took it would leave the RX port unbound, and
        // the guest would never hear of frames put on its RX ring.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (a, b) = await PairAsync(53, 54, bothStyles: true, cts.Token);
        Assert.NotNull(await _sim.XenStore.ReadAsync($"{SimToolstack.FrontendPath(53, 0)}/event-channel"));
        await ExchangeAsync(a, b, cts.Token);
        await AwaitAssertAsync(() => Assert.True(a.Frames == Frames && b.Frames == Frames, $"received {a.Frames} and {b.Frames} of {Frames}"), TimeSpan.FromSeconds(20));
        await AssertSplitBindingAsync(a);
        await AssertSplitBindingAsync(b);
    }
}
