using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Rings;
using Backend.Actors.Tests.Support;
using Backend.Actors.Vif;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// SIMXEN "What the daemon promises": a restart of one guest's actor tree needs no reconnect and loses
/// nothing of the other guests. Eight guests (four pairs) exchange windowed, verified traffic; the TX
/// ring actor of guest 3 is made to throw.
/// </summary>
public sealed class FaultInjectionTests : TestKit, IAsyncLifetime
{
    private readonly ITestOutputHelper _output;
    private const ushort Faulted = 3;
    private const int FramesEach = 1000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly List<TrafficPair> _pairs = [];
    private SimBackendFixture _sim = null!;

    public FaultInjectionTests(ITestOutputHelper output) : base(@"akka.loglevel = INFO", output) => _output = output;

    public async Task InitializeAsync() => _sim = await SimBackendFixture.CreateAsync();

    public async Task DisposeAsync()
    {
        // The actors hold ring mappings and event channels: stop them before the platform goes.
        await Sys.Terminate();
        foreach (var p in _pairs)
            await p.DisposeAsync();
        await _sim.DisposeAsync();
    }

    [Fact]
    public async Task A_fault_in_one_guest_tx_actor_restarts_its_tree_alone_without_reconnect_and_the_others_lose_nothing()
    {
        var clock = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var toolstack = new SimToolstack(_sim.XenStore);
        for (ushort d = 1; d <= 8; d += 2)
            _pairs.Add(await TrafficPair.StartAsync(_sim, toolstack, d, (ushort)(d + 1)));
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), "xenbus");
        foreach (var p in _pairs)
            await p.ConnectAsync(cts.Token);
        var faulted = _pairs[1].A;
        var partner = _pairs[1].B;
        Assert.Equal(Faulted, faulted.DomId);

        // Any write to either state node of the faulted vif after the watch's initial event is a change.
        var backendStateEvents = 0;
        var frontendStateEvents = 0;
        await using var backendWatch = await _sim.XenStore.WatchAsync($"{faulted.Netfront.BackendPath}/state", "robust:be", _ => Interlocked.Increment(ref backendStateEvents));
        await using var frontendWatch = await _sim.XenStore.WatchAsync($"{faulted.Netfront.FrontendPath}/state", "robust:fe", _ => Interlocked.Increment(ref frontendStateEvents));

        // Guest 3's pair sends until the test has seen its traffic resume after the restart.
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var traffic = Task.WhenAll(_pairs.Select(p => p == _pairs[1]
            ? p.RunUntilAsync(FramesEach, resumed.Task, cts.Token)
            : p.RunAsync(FramesEach, cts.Token)));
        while (partner.Receiver.Distinct < FramesEach / 5)
            await Task.Delay(2, cts.Token);

        Sys.ActorSelection($"/user/xenbus/vif{Faulted}.0/queue-0/tx").Tell(new RingProtocol.InjectFault("test"));
        var status = _sim.Status.Snapshot().Single(v => v.Id.DomId == Faulted);
        await AwaitAssertAsync(() => Assert.Equal(1, Interlocked.Read(ref status.Restarts)), Timeout);
        // The failed incarnation served nothing after it threw, and Restarts was counted after that: a TX
        // packet counted from now on was served by the new one, when the whole tree had been restarted.
        var served = Interlocked.Read(ref status.TxPackets);
        await AwaitAssertAsync(() => Assert.True(Interlocked.Read(ref status.TxPackets) > served,
            $"the restarted TX actor should serve the ring: guest 3 sent {faulted.Sent}, {faulted.Netfront.TxOutstanding} outstanding, guest 4 has {partner.Receiver.Distinct}; " +
            $"backend TX req_cons {status.TxReqCons} rsp_prod {status.TxRspProd} packets {status.TxPackets}, RX req_cons {status.RxReqCons} rsp_prod {status.RxRspProd} queued {status.RxQueued}; " +
            $"guest 4 sent {partner.Sent}, guest 3 has {faulted.Receiver.Distinct}"), Timeout);
        // A crash may lose or repeat the frames in flight inside the restarted tree: for guest 3's pair
        // only, frames sent before this point are exempt from the zero-loss check (both ways); every
        // frame sent from here on must arrive once, intact.
        partner.Receiver.SetFloor((uint)faulted.Sent);
        faulted.Receiver.SetFloor((uint)partner.Sent);
        _output.WriteLine($"fault at {clock.ElapsedMilliseconds} ms; floors {faulted.Sent} (3→4), {partner.Sent} (4→3)");
        while (partner.Receiver.DistinctAtOrAboveFloor < FramesEach / 5 || faulted.Receiver.DistinctAtOrAboveFloor < FramesEach / 5)
            await Task.Delay(2, cts.Token);
        resumed.TrySetResult();

        await traffic.WaitAsync(cts.Token);
        foreach (var p in _pairs)
            await p.WaitDeliveredAsync(cts.Token);
        foreach (var p in _pairs)
            p.AssertZeroLoss();
        _output.WriteLine($"pair 3-4 lost {(int)faulted.Receiver.Floor - (faulted.Receiver.Distinct - faulted.Receiver.DistinctAtOrAboveFloor)} frames 4→3 (floor {faulted.Receiver.Floor}), repeated {faulted.Receiver.Duplicates + partner.Receiver.Duplicates}");

        foreach (var v in _sim.Status.Snapshot())
            Assert.True(Interlocked.Read(ref v.Restarts) == (v.Id.DomId == Faulted ? 1 : 0), $"{v.Id} restarted {v.Restarts} times");
        foreach (var g in _pairs.SelectMany(p => p.Guests))
        {
            Assert.Equal(XenbusState.Connected, g.Netfront.State);
            Assert.Equal(0, g.Netfront.Counters.TxErrors);
        }
        Assert.Equal("4", await _sim.XenStore.ReadAsync($"{faulted.Netfront.BackendPath}/state"));
        Assert.True(Volatile.Read(ref backendStateEvents) == 1, $"the backend's state node was written {backendStateEvents - 1} times");
        Assert.True(Volatile.Read(ref frontendStateEvents) == 1, $"the frontend's state node was written {frontendStateEvents - 1} times");
        _output.WriteLine($"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task A_queue_whose_data_path_fails_past_its_restart_budget_disables_its_vif_alone()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var toolstack = new SimToolstack(_sim.XenStore);
        _pairs.Add(await TrafficPair.StartAsync(_sim, toolstack, 1, 2));
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), "xenbus");
        await _pairs[0].ConnectAsync(cts.Token);
        var status = _sim.Status.Snapshot().Single(v => v.Id.DomId == 1);
        var other = _sim.Status.Snapshot().Single(v => v.Id.DomId == 2);

        // Each fault once the restart before it is done: every one is a failure of a running ring actor.
        for (var i = 1; i <= VifQueueActor.MaxRestartsPerWindow; i++)
        {
            Sys.ActorSelection("/user/xenbus/vif1.0/queue-0/tx").Tell(new RingProtocol.InjectFault($"test {i}"));
            var expected = i;
            await AwaitAssertAsync(() => Assert.Equal(expected, Interlocked.Read(ref status.Restarts)), Timeout);
            await AwaitAssertAsync(async () =>
            {
                var identity = await Sys.ActorSelection("/user/xenbus/vif1.0/queue-0/tx").Ask<ActorIdentity>(new Identify(null), Timeout);
                Assert.NotNull(identity.Subject);
            }, Timeout);
            Assert.False(status.Disabled, $"disabled after {i} restarts");
        }

        Sys.ActorSelection("/user/xenbus/vif1.0/queue-0/tx").Tell(new RingProtocol.InjectFault("one too many"));
        await AwaitAssertAsync(() => Assert.True(status.Disabled, "the vif should be disabled past its queue's restart budget"), Timeout);
        Assert.Contains($"failed {VifQueueActor.MaxRestartsPerWindow + 1} times", status.Fault, StringComparison.Ordinal);
        Assert.Equal(VifQueueActor.MaxRestartsPerWindow, Interlocked.Read(ref status.Restarts));
        Assert.Equal(1, Interlocked.Read(ref _sim.Status.DisabledTotal));
        // Its ring actors are gone (not restarted an eleventh time); the other guest's vif is untouched.
        await AwaitAssertAsync(async () =>
        {
            var identity = await Sys.ActorSelection("/user/xenbus/vif1.0/queue-0/tx").Ask<ActorIdentity>(new Identify(null), Timeout);
            Assert.Null(identity.Subject);
        }, Timeout);
        Assert.False(other.Disabled);
        Assert.Equal(0, Interlocked.Read(ref other.Restarts));
    }
}
