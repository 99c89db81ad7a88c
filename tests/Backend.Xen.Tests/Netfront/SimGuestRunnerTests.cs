using System.Net;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Xen.Tests.Netfront;

/// <summary>
/// Whole guests run by <see cref="SimGuestRunner"/> (as the host's sim-guest subcommand will), talking
/// through the C reference netback, which lives in another process.
/// </summary>
public sealed class SimGuestRunnerTests(ITestOutputHelper output)
{
    private static SimGuestOptions Guest(SimTestRoot sim, ushort domid, SimGuestMode mode, TextWriter output, string? peer = null, int count = 3) => new()
    {
        Root = sim.Path,
        DomId = domid,
        Mac = $"00:16:3e:00:01:{domid:x2}",
        Ip = IPAddress.Parse($"10.0.0.{domid}"),
        PeerIp = peer is null ? null : IPAddress.Parse(peer),
        Mode = mode,
        Count = count,
        CreateVif = true,
        Output = output,
        Timeout = TimeSpan.FromSeconds(20),
    };

    [SkippableFact]
    public async Task A_guest_pings_another_through_cback_and_each_answer_comes_back()
    {
        var build = SimxenCReference.Build();
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        await using var cback = await CbackProcess.StartAsync(build, sim.Path, TimeSpan.FromSeconds(20));
        var echoLog = new StringWriter();
        var pingLog = new StringWriter();
        using var stopEcho = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var echo = SimGuestRunner.RunAsync(Guest(sim, 2, SimGuestMode.Echo, TextWriter.Synchronized(echoLog)), stopEcho.Token);
        SimGuestResult ping;
        try
        {
            ping = await SimGuestRunner.RunAsync(Guest(sim, 1, SimGuestMode.Ping, TextWriter.Synchronized(pingLog), "10.0.0.2", count: 5), CancellationToken.None);
        }
        finally
        {
            await stopEcho.CancelAsync();
        }
        var echoed = await echo;
        output.WriteLine(pingLog.ToString());
        output.WriteLine(echoLog.ToString());
        Assert.True(ping.PingsLost == 0, $"pings lost:\n{pingLog}\n{cback.Log}");
        Assert.Equal(5, ping.RoundTrips.Count);
        Assert.Equal(5, echoed.EchoAnswered);
        Assert.Equal(0, ping.Counters.TxErrors);
        Assert.Equal(0, echoed.Counters.TxErrors);
        Assert.Contains("icmp_seq=5", pingLog.ToString(), StringComparison.Ordinal);
        // Both guests closed in order and the toolstack removed them.
        Assert.False(Directory.Exists(sim.Root.DomainDirectory(1)));
        Assert.False(Directory.Exists(sim.Root.DomainDirectory(2)));
    }

    [SkippableFact]
    public async Task A_guest_streams_udp_frames_to_another_through_cback_and_all_arrive()
    {
        var build = SimxenCReference.Build();
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        await using var cback = await CbackProcess.StartAsync(build, sim.Path, TimeSpan.FromSeconds(20));
        var log = new StringWriter();
        var synchronized = TextWriter.Synchronized(log);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var sink = SimGuestRunner.RunAsync(Guest(sim, 4, SimGuestMode.Echo, synchronized) with { StopAfterFrames = 400 }, timeout.Token);
        // 400 frames: fewer than cback's 512-frame receive queue, so none may be dropped even unpaced.
        var stream = await SimGuestRunner.RunAsync(Guest(sim, 3, SimGuestMode.Stream, synchronized, "10.0.0.4", count: 400), timeout.Token);
        var sunk = await sink;
        output.WriteLine(log.ToString());
        Assert.False(timeout.IsCancellationRequested, $"the sink got {sunk.OtherFramesReceived} of 400 frames before the time ran out\n{log}\n{cback.Log}");
        Assert.Equal(400, sunk.OtherFramesReceived);
        // The 400 frames, the announcement and at least one ARP request.
        Assert.True(stream.Counters.Sent >= 402, $"sent {stream.Counters.Sent}");
        Assert.Equal(0, stream.Counters.TxErrors);
        Assert.True(stream.FramesPerSecond > 0);
    }

    [SkippableFact]
    public async Task A_guest_started_before_its_vif_exists_waits_for_the_toolstack_then_pings()
    {
        var build = SimxenCReference.Build();
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        await using var cback = await CbackProcess.StartAsync(build, sim.Path, TimeSpan.FromSeconds(20));
        var log = new StringWriter();
        var synchronized = TextWriter.Synchronized(log);
        var ping = SimGuestRunner.RunAsync(Guest(sim, 5, SimGuestMode.Ping, synchronized, "10.0.0.6", count: 2) with { CreateVif = false }, CancellationToken.None);
        using var stopEcho = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var echo = SimGuestRunner.RunAsync(Guest(sim, 6, SimGuestMode.Echo, synchronized), stopEcho.Token);
        var store = await sim.ConnectAsync();
        await new SimToolstack(store).CreateVifAsync(new SimVifSpec { GuestDomId = 5, Handle = 0, Mac = "00:16:3e:00:01:05" });
        SimGuestResult result;
        try
        {
            result = await ping;
        }
        finally
        {
            await stopEcho.CancelAsync();
        }
        await echo;
        output.WriteLine(log.ToString());
        Assert.True(result.PingsLost == 0 && result.RoundTrips.Count == 2, $"{log}\n{cback.Log}");
    }

    [Fact]
    public async Task A_guest_whose_vif_never_comes_times_out_naming_the_vif()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var options = Guest(sim, 8, SimGuestMode.Echo, TextWriter.Null) with { CreateVif = false, Timeout = TimeSpan.FromMilliseconds(300) };
        var e = await Assert.ThrowsAsync<TimeoutException>(() => SimGuestRunner.RunAsync(options, CancellationToken.None));
        Assert.Contains("vif 8.0", e.Message, StringComparison.Ordinal);
    }
}
