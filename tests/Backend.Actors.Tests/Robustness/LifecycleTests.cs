using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// A vif's life after Connected: reconnect, the two ways of unplugging (SIMXEN "The toolstack's part"),
/// and a guest that dies without closing. Guests 1 and 2 are the subject; guests 3 and 4 exchange
/// windowed traffic throughout and must lose nothing.
/// </summary>
public sealed class LifecycleTests : TestKit, IAsyncLifetime
{
    private const ushort Subject = 1;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly ITestOutputHelper _output;
    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(60));
    private readonly TaskCompletionSource _stopBystanders = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private SimBackendFixture _sim = null!;
    private SimToolstack _toolstack = null!;
    private TrafficPair _subject = null!;
    private TrafficPair _bystanders = null!;
    private Task _bystanderTraffic = Task.CompletedTask;

    public LifecycleTests(ITestOutputHelper output) : base(@"akka.loglevel = INFO", output) => _output = output;

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        _toolstack = new SimToolstack(_sim.XenStore);
        _subject = await TrafficPair.StartAsync(_sim, _toolstack, Subject, 2);
        _bystanders = await TrafficPair.StartAsync(_sim, _toolstack, 3, 4);
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), "xenbus");
        await _subject.ConnectAsync(_cts.Token);
        await _bystanders.ConnectAsync(_cts.Token);
        _bystanderTraffic = _bystanders.RunUntilAsync(300, _stopBystanders.Task, _cts.Token);
    }

    public async Task DisposeAsync()
    {
        _stopBystanders.TrySetResult();
        try { await _bystanderTraffic; }
        catch (Exception) { /* reported by the test itself */ }
        // The actors hold ring mappings and event channels: stop them before the platform goes.
        await Sys.Terminate();
        await _subject.DisposeAsync();
        await _bystanders.DisposeAsync();
        await _sim.DisposeAsync();
        _cts.Dispose();
    }

    private async Task FinishBystandersAsync()
    {
        _stopBystanders.TrySetResult();
        await _bystanderTraffic.WaitAsync(_cts.Token);
        await _bystanders.WaitDeliveredAsync(_cts.Token);
        _bystanders.AssertZeroLoss();
        foreach (var v in _sim.Status.Snapshot())
            Assert.Equal(0, Interlocked.Read(ref v.Restarts));
        _output.WriteLine($"took {_clock.ElapsedMilliseconds} ms");
    }

    private async Task<uint> ReadFrontendUIntAsync(string key) =>
        uint.Parse(await _sim.XenStore.ReadAsync($"{_subject.A.Netfront.FrontendPath}/{key}") ?? throw new InvalidOperationException($"{key} missing"), CultureInfo.InvariantCulture);

    /// <summary>What the backend holds of the subject's connection: its ring grants and its local event-channel port.</summary>
    private async Task<(uint TxRef, uint RxRef, uint BackendPort)> ReadBindingAsync()
    {
        var txRef = await ReadFrontendUIntAsync("tx-ring-ref");
        var rxRef = await ReadFrontendUIntAsync("rx-ring-ref");
        var guestPort = await ReadFrontendUIntAsync("event-channel");
        var entry = _subject.A.Netfront.Domain.ReadEventChannelEntry(guestPort);
        Assert.True(entry.IsInterdomain && entry.PeerDomId == 0, $"guest port {guestPort} should be bound by the backend: {entry}");
        Assert.Equal(new SimEventChannelEntry(Subject, SimEventChannelEntry.StateInterdomain, guestPort), _sim.Platform.Domain.ReadEventChannelEntry(entry.PeerPort));
        return (txRef, rxRef, entry.PeerPort);
    }

    /// <summary>The subject's vif tree is gone, its status forgotten, its event channel unbound, its ring pages unmapped.</summary>
    private async Task AssertSubjectReleasedAsync((uint TxRef, uint RxRef, uint BackendPort) binding, SimGranter? granter)
    {
        await AwaitAssertAsync(async () =>
        {
            var identity = await Sys.ActorSelection($"/user/xenbus/vif{Subject}.0").Ask<ActorIdentity>(new Identify(null), Timeout);
            Assert.Null(identity.Subject);
        }, Timeout);
        await AwaitAssertAsync(() => Assert.DoesNotContain(_sim.Status.Snapshot(), v => v.Id.DomId == Subject), Timeout);
        await AwaitAssertAsync(() => Assert.Equal(default, _sim.Platform.Domain.ReadEventChannelEntry(binding.BackendPort)), Timeout);
        if (granter is not null)
        {
            // A map keeps GTF_reading|GTF_writing set until it is unmapped (SIMXEN "Grant map").
            await AwaitAssertAsync(() =>
            {
                Assert.Equal(0, granter.ReadEntry(binding.TxRef).Flags & (SimGrantFlags.GTF_reading | SimGrantFlags.GTF_writing));
                Assert.Equal(0, granter.ReadEntry(binding.RxRef).Flags & (SimGrantFlags.GTF_reading | SimGrantFlags.GTF_writing));
            }, Timeout);
        }
    }

    /// <summary>Runs subject traffic until it breaks (the vif goes away) or is cancelled; nothing is expected of it.</summary>
    private static async Task RunDoomedAsync(TrafficPair pair, CancellationToken ct)
    {
        try
        {
            await pair.RunUntilAsync(int.MaxValue, null, ct);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            // The vif went away under the senders, which is the point.
        }
    }

    [Fact]
    public async Task A_reconnecting_frontend_gets_fresh_rings_and_traffic_resumes()
    {
        await _subject.RunAsync(300, _cts.Token);
        await _subject.WaitDeliveredAsync(_cts.Token);
        var before = await ReadBindingAsync();

        await _subject.A.Netfront.ReconnectAsync(_cts.Token);
        // The old connection is gone: its port unbound. The new one is bound afresh.
        Assert.Equal(default, _sim.Platform.Domain.ReadEventChannelEntry(before.BackendPort));
        var after = await ReadBindingAsync();
        Assert.NotEqual(before.BackendPort, after.BackendPort);
        var status = _sim.Status.Snapshot().Single(v => v.Id.DomId == Subject);
        await AwaitAssertAsync(() => Assert.Equal(nameof(XenbusState.Connected), status.State), Timeout);

        // The bridge forgot the MAC with the old port: broadcast again, as after any connect.
        await _subject.A.SendHelloAsync(_cts.Token);
        await AwaitAssertAsync(() => Assert.Equal(2, _subject.B.Receiver.MarkersFrom(_subject.A.Mac)), Timeout);
        await _subject.RunAsync(300, _cts.Token);
        await _subject.WaitDeliveredAsync(_cts.Token);
        _subject.AssertZeroLoss();
        Assert.Equal(600, _subject.A.Sent);
        await FinishBystandersAsync();
    }

    [Fact]
    public async Task Removing_the_backend_directory_mid_traffic_stops_the_tree_and_releases_rings_and_event_channel()
    {
        var binding = await ReadBindingAsync();
        using var doomed = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        var traffic = RunDoomedAsync(_subject, doomed.Token);
        while (_subject.B.Receiver.Distinct < 100)
            await Task.Delay(2, _cts.Token);

        await _toolstack.RemoveVifAsync(Subject, 0);
        await AssertSubjectReleasedAsync(binding, _subject.A.Netfront.Domain.Granter);
        await doomed.CancelAsync();
        await traffic;
        await AwaitAssertAsync(async () => Assert.Equal(3, await Sys.ActorSelection("/user/xenbus").Ask<int>(XenbusProtocol.GetVifCount.Instance, Timeout)), Timeout);
        await FinishBystandersAsync();
    }

    [Fact]
    public async Task Offline_and_frontend_closed_makes_the_backend_Closed_and_forgets_the_vif()
    {
        await _subject.RunAsync(200, _cts.Token);
        await _subject.WaitDeliveredAsync(_cts.Token);
        _subject.AssertZeroLoss();
        var binding = await ReadBindingAsync();

        await _toolstack.SetOfflineAsync(Subject, 0);
        await _subject.A.Netfront.CloseAsync(_cts.Token);
        Assert.Equal("6", await _sim.XenStore.ReadAsync($"{_subject.A.Netfront.BackendPath}/state"));
        await AssertSubjectReleasedAsync(binding, _subject.A.Netfront.Domain.Granter);
        await FinishBystandersAsync();
    }

    [Fact]
    public async Task A_guest_that_dies_mid_traffic_is_destroyed_and_the_daemon_and_other_guests_carry_on()
    {
        var binding = await ReadBindingAsync();
        using var doomed = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        var traffic = RunDoomedAsync(_subject, doomed.Token);
        while (_subject.B.Receiver.Distinct < 100)
            await Task.Delay(2, _cts.Token);

        // Dies: its netfront lets go of rings, event channel and files without a word to xenstore.
        await _subject.A.DisposeAsync();
        Assert.Equal("4", await _sim.XenStore.ReadAsync($"{_subject.A.Netfront.FrontendPath}/state"));
        await _toolstack.DestroyGuestAsync(_sim.Root, Subject);
        await AssertSubjectReleasedAsync(binding, granter: null);
        await doomed.CancelAsync();
        await traffic;
        await AwaitAssertAsync(async () => Assert.Equal(3, await Sys.ActorSelection("/user/xenbus").Ask<int>(XenbusProtocol.GetVifCount.Instance, Timeout)), Timeout);
        await FinishBystandersAsync();
    }

    [Fact]
    public async Task A_destroyed_guest_s_memory_and_grant_table_are_no_longer_mapped_by_the_daemon()
    {
        await _subject.RunAsync(100, _cts.Token);
        await _subject.WaitDeliveredAsync(_cts.Token);
        // Dies: its own mappings (this process plays the guest too) go with its netfront.
        await _subject.A.DisposeAsync();
        var files = _sim.Root.DomainDirectory(Subject) + "/";
        Assert.NotEmpty(HeldFiles(files)); // the daemon's: the vif is still connected, its rings mapped

        await _toolstack.DestroyGuestAsync(_sim.Root, Subject);
        await AwaitAssertAsync(async () => Assert.Equal(3, await Sys.ActorSelection("/user/xenbus").Ask<int>(XenbusProtocol.GetVifCount.Instance, Timeout)), Timeout);
        await AwaitAssertAsync(() =>
        {
            var held = HeldFiles(files);
            Assert.True(held.Count == 0, "the daemon still holds the dead guest's files:\n" + string.Join('\n', held));
        }, Timeout);
        await FinishBystandersAsync();
    }

    /// <summary>This process's mappings (<c>/proc/self/maps</c>) and descriptors of files under <paramref name="directory"/>.</summary>
    private static List<string> HeldFiles(string directory)
    {
        var held = File.ReadAllLines("/proc/self/maps").Where(l => l.Contains(directory, StringComparison.Ordinal)).ToList();
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            string? target;
            try { target = new FileInfo(fd).LinkTarget; }
            catch (IOException) { continue; } // closed since it was listed
            if (target is not null && target.StartsWith(directory, StringComparison.Ordinal))
                held.Add($"fd {Path.GetFileName(fd)} -> {target}");
        }
        return held;
    }
}
