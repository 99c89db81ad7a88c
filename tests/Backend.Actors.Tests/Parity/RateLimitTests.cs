using System.Diagnostics;
using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Parity;

/// <summary>
/// A vif's <c>rate</c> end to end (issue 15, item 6): guests under SIMXEN against the daemon in process, the
/// delivered rate of a vif with a rate measured against that of one without, in the same test, for what a
/// guest sends (Linux's credit scheduler) and what it receives (beyond Linux), and a rate the toolstack
/// rewrites while the vif is connected. Each pair has its own bridge. Senders offer five times the rate,
/// so a vif held to it is always backlogged; the first credit (a burst) is spent before measuring.
/// </summary>
[Collection(RateCollection.Name)]
public sealed class RateLimitTests : TestKit, IAsyncLifetime
{
    /// <summary>1 MB/s as libxl writes it: 10000 bytes every 10 ms.</summary>
    private static readonly SimVifRate Limit = new(10_000, 10_000);
    private const double LimitBytesPerSecond = 1_000_000;
    private const long Offered = 5_000_000;
    private static readonly TimeSpan WarmUp = TimeSpan.FromMilliseconds(700);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2.5);

    private readonly ITestOutputHelper _output;
    private readonly List<RateGuest> _guests = [];
    private SimBackendFixture _sim = null!;
    private InProcessDaemon _daemon = null!;

    public RateLimitTests(ITestOutputHelper output) : base("akka.loglevel = INFO", output) => _output = output;

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        // Domain 0 is the daemon's.
        await _sim.Platform.DisposeAsync();
        _daemon = await InProcessDaemon.StartAsync(_sim, "xnb-rate");
    }

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        foreach (var g in _guests)
            await g.DisposeAsync();
        await _sim.DisposeAsync();
    }

    private async Task<RateGuest> GuestAsync(ushort domid, string? bridge, SimVifRate? rate = null)
    {
        var guest = await RateGuest.StartAsync(_sim, domid, bridge, rate);
        _guests.Add(guest);
        return guest;
    }

    private async Task ConnectAllAsync(CancellationToken ct)
    {
        foreach (var g in _guests)
            await g.Netfront.WaitForConnectedAsync(ct);
        foreach (var g in _guests)
            await g.SendHelloAsync(ct);
    }

    /// <summary>Bytes per second that reached each counter over <see cref="Window"/>, measured together.</summary>
    /// <summary>Both senders offer <see cref="Offered"/> to their sinks; after the warm-up, what each sink gets.</summary>
    private static async Task<double[]> OfferBothAndMeasureAsync((RateGuest From, RateGuest To) first, (RateGuest From, RateGuest To) second, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var offers = Task.WhenAll(first.From.OfferAsync(first.To.DomId, Offered, stop.Token), second.From.OfferAsync(second.To.DomId, Offered, stop.Token));
        await Task.Delay(WarmUp, ct);
        var rates = await MeasureAsync(ct, first.To, second.To);
        await stop.CancelAsync();
        await offers;
        return rates;
    }

    private static async Task<double[]> MeasureAsync(CancellationToken ct, params RateGuest[] sinks)
    {
        var before = sinks.Select(s => s.Bytes).ToArray();
        var clock = Stopwatch.StartNew();
        await Task.Delay(Window, ct);
        var seconds = clock.Elapsed.TotalSeconds;
        return [.. sinks.Select((s, i) => (s.Bytes - before[i]) / seconds)];
    }

    /// <summary>Where a guest's traffic stands on both sides, for a failure's message.</summary>
    private string Describe(RateGuest guest)
    {
        var v = _daemon.Status.Snapshot().Single(s => s.Id.DomId == guest.DomId);
        var n = guest.Netfront;
        return $"vif {guest.DomId}: backend tx req_cons {v.TxReqCons} rsp_prod {v.TxRspProd}, rx req_cons {v.RxReqCons} rsp_prod {v.RxRspProd}, " +
            $"tx {v.TxPackets} rx {v.RxPackets} rx dropped {v.RxDropped} restarts {v.Restarts} faults {v.Faults} carrier {v.Carrier} disabled {v.Disabled} fault {v.Fault ?? "none"}; " +
            $"netfront tx outstanding {n.TxOutstanding}, ring broken {n.RingBroken ?? "no"}, failure {n.Failure ?? "none"}, frames received {guest.Frames}";
    }

    private void AssertHeldToLimit(double measured, double limit, string what)
    {
        _output.WriteLine($"{what}: {measured / 1e6:F3} MB/s (limit {limit / 1e6:F3} MB/s)");
        Assert.True(Math.Abs(measured - limit) <= 0.1 * limit, $"{what} delivered {measured / 1e6:F3} MB/s, not within 10 % of {limit / 1e6:F3} MB/s\n{string.Join('\n', _guests.Select(Describe))}");
    }

    private void AssertUnlimited(double measured, double limit, string what)
    {
        _output.WriteLine($"{what}: {measured / 1e6:F3} MB/s (unlimited)");
        Assert.True(measured > 3 * limit, $"{what} delivered {measured / 1e6:F3} MB/s of {Offered / 1e6:F0} offered: not clearly above {limit / 1e6:F3} MB/s");
    }

    [Fact]
    public async Task What_a_guest_with_a_rate_sends_is_held_to_it_while_one_without_sends_what_it_offers()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var throttled = await GuestAsync(11, "rate-a", Limit);
        var sinkA = await GuestAsync(12, "rate-a");
        var unlimited = await GuestAsync(13, "rate-b");
        var sinkB = await GuestAsync(14, "rate-b");
        await ConnectAllAsync(cts.Token);

        var rates = await OfferBothAndMeasureAsync((throttled, sinkA), (unlimited, sinkB), cts.Token);

        AssertHeldToLimit(rates[0], LimitBytesPerSecond, "guest 11's transmit (rate 10000,10000)");
        AssertUnlimited(rates[1], LimitBytesPerSecond, "guest 13's transmit");
        // Held back on its ring, not dropped: the vif is well, and its peer lost nothing that was taken.
        var status = _daemon.Status.Snapshot().Single(v => v.Id.DomId == 11);
        Assert.False(status.Disabled);
        Assert.Null(status.Fault);
    }

    [Fact]
    public async Task What_a_guest_with_a_rate_receives_is_held_to_it_while_one_without_receives_what_is_offered()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var senderA = await GuestAsync(21, "rate-c");
        var throttled = await GuestAsync(22, "rate-c", Limit);
        var senderB = await GuestAsync(23, "rate-d");
        var unlimited = await GuestAsync(24, "rate-d");
        await ConnectAllAsync(cts.Token);

        var rates = await OfferBothAndMeasureAsync((senderA, throttled), (senderB, unlimited), cts.Token);

        AssertHeldToLimit(rates[0], LimitBytesPerSecond, "guest 22's receive (rate 10000,10000)");
        AssertUnlimited(rates[1], LimitBytesPerSecond, "guest 24's receive");
        // What the rate held back beyond the RX queue was dropped and counted, as for any slow guest.
        Assert.True(_daemon.Status.Snapshot().Single(v => v.Id.DomId == 22).RxDropped > 0, "the excess offered to guest 22 was not counted as dropped");
    }

    [Fact]
    public async Task A_vif_whose_rate_is_malformed_from_the_start_connects_and_runs_unlimited()
    {
        // It used to fail at probe: error node, Closing, the guest without network (issue 15, item 6).
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // Written after the toolstack's transaction and before the netfront starts: read at probe or at connect.
        await RateGuest.CreateVifAsync(_sim, 41, "rate-f", Limit);
        await _sim.XenStore.WriteAsync($"{SimToolstack.BackendPath(0, 41, 0)}/rate", "1Mb/s");
        var sender = await GuestAsync(41, bridge: null);
        var sink = await GuestAsync(42, "rate-f");
        await ConnectAllAsync(cts.Token);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        var offer = sender.OfferAsync(sink.DomId, Offered, stop.Token);
        await Task.Delay(WarmUp, cts.Token);
        var rate = (await MeasureAsync(cts.Token, sink))[0];
        await stop.CancelAsync();
        await offer;

        AssertUnlimited(rate, LimitBytesPerSecond, "guest 41's transmit (rate \"1Mb/s\")");
        Assert.Null(await _sim.XenStore.ReadAsync($"{SimToolstack.ErrorPath(0, 41, 0)}/error"));
        Assert.Equal("1Mb/s", await _sim.XenStore.ReadAsync($"{SimToolstack.BackendPath(0, 41, 0)}/rate"));
    }

    [Fact]
    public async Task A_rate_the_toolstack_rewrites_applies_without_a_reconnect_and_a_malformed_one_means_unlimited()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var sender = await GuestAsync(31, "rate-e", Limit);
        var sink = await GuestAsync(32, "rate-e");
        await ConnectAllAsync(cts.Token);
        var backend = SimToolstack.BackendPath(0, 31, 0);
        var frontend = SimToolstack.FrontendPath(31, 0);
        var stateWrites = new int[2];
        var watches = new[]
        {
            await _sim.XenStore.WatchAsync($"{backend}/state", "rate-test:be", _ => Interlocked.Increment(ref stateWrites[0])),
            await _sim.XenStore.WatchAsync($"{frontend}/state", "rate-test:fe", _ => Interlocked.Increment(ref stateWrites[1])),
        };

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        var offer = sender.OfferAsync(sink.DomId, 2 * Offered, stop.Token);
        await Task.Delay(WarmUp, cts.Token);
        AssertHeldToLimit((await MeasureAsync(cts.Token, sink))[0], LimitBytesPerSecond, "at 10000,10000");

        await _sim.XenStore.WriteAsync($"{backend}/rate", "20000,10000");
        await Task.Delay(WarmUp, cts.Token);
        AssertHeldToLimit((await MeasureAsync(cts.Token, sink))[0], 2 * LimitBytesPerSecond, "rewritten to 20000,10000");

        await _sim.XenStore.WriteAsync($"{backend}/rate", "20000 bytes");
        await Task.Delay(WarmUp, cts.Token);
        var unlimited = (await MeasureAsync(cts.Token, sink))[0];
        _output.WriteLine($"malformed: {unlimited / 1e6:F3} MB/s");
        Assert.True(unlimited > 5 * LimitBytesPerSecond, $"with a malformed rate the vif delivered {unlimited / 1e6:F3} MB/s of {2 * Offered / 1e6:F0} offered: still limited\n{Describe(sender)}\n{Describe(sink)}");
        await stop.CancelAsync();
        await offer;

        // No reconnect: neither state node was written after the watches' first events, and the vif is well.
        foreach (var w in watches)
            await w.DisposeAsync();
        Assert.Equal(new[] { 1, 1 }, stateWrites);
        Assert.Equal(XenbusState.Connected, sender.Netfront.State);
        Assert.Equal(XenbusState.Connected, sender.Netfront.BackendState);
        var status = _daemon.Status.Snapshot().Single(v => v.Id.DomId == 31);
        Assert.Equal((nameof(XenbusState.Connected), false, null), (status.State, status.Disabled, status.Fault));
        Assert.Null(sender.Netfront.RingBroken);
    }

    [Fact]
    public async Task Rate_rewrites_under_traffic_leave_the_ring_whole_and_the_traffic_flowing()
    {
        // Each rewrite re-attaches the data path while the sender is backlogged on a full ring, so the old
        // TX ring actor has a pass to make every few milliseconds when it is told to stop. Before the
        // re-attach waited for the old actors to stop, an old one could go on making passes after the new one
        // had attached at rsp_prod: the new one then took the frontend's next requests for impossible ones,
        // the vif was disabled (ImpossibleRequestProducer) and the guest's ring broken. The test above failed
        // so in 2 of 10 runs under load.
        const int Rewrites = 40;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var sender = await GuestAsync(51, "rate-g", Limit);
        var sink = await GuestAsync(52, "rate-g");
        await ConnectAllAsync(cts.Token);
        var backend = SimToolstack.BackendPath(0, 51, 0);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        var offer = sender.OfferAsync(sink.DomId, 2 * Offered, stop.Token);
        // Limited rates only (2, 1 and 3 MB/s of the 10 offered), so that the sender stays backlogged.
        string[] rates = ["20000,10000", "10000,10000", "30000,10000"];
        for (var i = 0; i < Rewrites; i++)
        {
            await _sim.XenStore.WriteAsync($"{backend}/rate", rates[i % rates.Length]);
            await Task.Delay(60 + i % 5 * 10, cts.Token);
        }
        await _sim.XenStore.WriteAsync($"{backend}/rate", "20000 bytes");
        await Task.Delay(WarmUp, cts.Token);
        var unlimited = (await MeasureAsync(cts.Token, sink))[0];
        await stop.CancelAsync();
        await offer;

        Assert.True(unlimited > 3 * LimitBytesPerSecond, $"after {Rewrites + 1} rewrites, the last one malformed, the vif delivered {unlimited / 1e6:F3} MB/s\n{Describe(sender)}\n{Describe(sink)}");
        Assert.Null(sender.Netfront.RingBroken);
        // Every request the sender put on its ring was answered, once.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        idle.CancelAfter(TimeSpan.FromSeconds(10));
        await sender.Netfront.WaitForTxIdleAsync(idle.Token);
        var status = _daemon.Status.Snapshot().Single(v => v.Id.DomId == 51);
        Assert.Equal((nameof(XenbusState.Connected), false, null), (status.State, status.Disabled, status.Fault));
        Assert.Equal(status.TxReqCons, status.TxRspProd);
    }
}
