using System.Diagnostics;
using Akka.TestKit.Xunit2;
using Backend.Actors.Rings;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Buffers;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// SIMXEN "an orderly stop flushes and loses none", at the stop point itself: two guests keep sending
/// windowed, checked frames both ways, without pausing, while the daemon is stopped in an orderly way and
/// started again on the same root, over and over. Each stop falls in the middle of traffic: frames on the
/// TX rings, in copies, on their way to an RX actor, in RX queues; and frames keep arriving on the TX
/// rings while it stops (which must stay there for the next daemon, unanswered).
/// </summary>
public sealed class OrderlyStopTests : TestKit, IAsyncLifetime
{
    private const int Restarts = 50;
    private readonly ITestOutputHelper _output;
    private readonly List<InProcessDaemon> _daemons = [];
    private SimBackendFixture _sim = null!;
    private TrafficPair? _pair;

    public OrderlyStopTests(ITestOutputHelper output) : base(@"akka.loglevel = INFO", output) => _output = output;

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        // Domain 0 belongs to the daemons this test starts, not to the fixture.
        await _sim.Platform.DisposeAsync();
    }

    public async Task DisposeAsync()
    {
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
    public async Task Frames_sent_across_fifty_orderly_restarts_under_traffic_all_arrive_once_and_intact()
    {
        var clock = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var pair = _pair = await TrafficPair.StartAsync(_sim, new SimToolstack(_sim.XenStore), 1, 2);
        var daemon = await StartDaemonAsync("xnb-0");
        await pair.ConnectAsync(cts.Token);

        var stopSending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var traffic = pair.RunUntilAsync(0, stopSending.Task, cts.Token);
        var stopTimes = new List<long>(Restarts);
        for (var restart = 1; restart <= Restarts; restart++)
        {
            // Traffic through this daemon both ways before it stops, so that the stop meets frames in flight.
            await WaitForProgressAsync(pair, 16, cts.Token);
            var stopping = clock.ElapsedMilliseconds;
            Assert.True(await daemon.StopAsync(), $"restart {restart}: the orderly stop's flush timed out");
            stopTimes.Add(clock.ElapsedMilliseconds - stopping);
            daemon = await StartDaemonAsync($"xnb-{restart}");
        }
        await WaitForProgressAsync(pair, 16, cts.Token);
        stopSending.SetResult();
        await traffic.WaitAsync(cts.Token);
        await pair.WaitDeliveredAsync(cts.Token);

        pair.AssertZeroLoss();
        foreach (var g in pair.Guests)
            Assert.Equal(0u, g.Receiver.Floor); // nothing was ever given up for lost
        stopTimes.Sort();
        _output.WriteLine($"{Restarts} orderly restarts, {pair.A.Sent}/{pair.B.Sent} frames sent, none lost; " +
            $"stop p50 {stopTimes[stopTimes.Count / 2]} ms, max {stopTimes[^1]} ms; took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task The_flush_waits_for_a_TX_pass_under_way_and_then_for_the_buffers_of_its_frames()
    {
        var intake = new TxIntake();
        using var pool = new PacketBufferPool();
        // A pass that has read its ring and not yet put its frame in a buffer.
        Assert.True(intake.TryEnter());
        var flush = OrderlyStop.QuiesceAndFlushAsync(intake, pool, TimeSpan.FromSeconds(30));
        Assert.False(intake.TryEnter(), "a pass began after the stop closed the intake");
        await Task.Delay(100);
        Assert.False(flush.IsCompleted, "the flush ended with a TX pass under way");

        var frame = pool.Rent(60);
        intake.Exit();
        await Task.Delay(100);
        Assert.False(flush.IsCompleted, "the flush ended with a frame in flight");

        frame.Return();
        Assert.True(await flush.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task The_flush_gives_up_at_its_timeout_on_a_frame_never_delivered()
    {
        using var pool = new PacketBufferPool();
        var frame = pool.Rent(60);
        Assert.False(await OrderlyStop.QuiesceAndFlushAsync(new TxIntake(), pool, TimeSpan.FromMilliseconds(50)));
        frame.Return();
    }

    /// <summary>Until each guest has received <paramref name="frames"/> more frames from its peer.</summary>
    private static async Task WaitForProgressAsync(TrafficPair pair, int frames, CancellationToken ct)
    {
        var a = pair.A.Receiver.Distinct + frames;
        var b = pair.B.Receiver.Distinct + frames;
        while (pair.A.Receiver.Distinct < a || pair.B.Receiver.Distinct < b)
            await Task.Delay(1, ct);
    }
}
