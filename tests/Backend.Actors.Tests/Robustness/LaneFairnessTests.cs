using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Hypercall;
using Backend.Actors.Status;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// One lane (one thread, as the daemon's lanes are) serves a <see cref="HostileFrontend"/> (guest 3) and a
/// working pair (guests 1 and 2): whatever the hostile guest does to its rings and its event channel, the
/// pair's windowed traffic must keep flowing, losing nothing. Each case bounds the pair's run inside the
/// test, so that a lane held for ever fails it rather than hangs it; the hostile guest then stops, which
/// lets a held lane go, so that the world can be torn down.
/// </summary>
public sealed class LaneFairnessTests : TestKit, IAsyncLifetime
{
    private const ushort Hostile = 3;
    private const int PairFrames = 200;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(60));
    private SimBackendFixture _sim = null!;
    private TrafficPair _pair = null!;
    private HostileFrontend _front = null!;
    private IXenStore _frontClient = null!;
    private int _replaying;
    private int _replays;

    public LaneFairnessTests() : base("akka.loglevel = INFO\n" + GrantCopyActors.DispatcherHocon(1))
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        var toolstack = new SimToolstack(_sim.XenStore);
        _pair = await TrafficPair.StartAsync(_sim, toolstack, 1, 2);
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = Hostile, Handle = 0, Mac = TrafficGuest.MacText(Hostile), Mtu = TrafficPair.Mtu });
        // One lane: the three guests' rings and bridge ports all run on its one thread.
        var platform = new NotifyHookPlatform(_sim.Platform, Replay);
        Sys.ActorOf(XenbusSupervisor.Props(_sim.ServicesOnLanes(Sys, 1, platform)), "xenbus");
        _frontClient = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _front = await HostileFrontend.ConnectAsync(_sim.Root, _frontClient, Hostile, 0, _cts.Token);
        await _pair.ConnectAsync(_cts.Token);
    }

    public async Task DisposeAsync()
    {
        await Sys.Terminate();
        await _pair.DisposeAsync();
        await _front.DisposeAsync();
        await _frontClient.DisposeAsync();
        await _sim.DisposeAsync();
        _cts.Dispose();
    }

    private VifStatus HostileStatus => _sim.Status.Snapshot().Single(v => v.Id.DomId == Hostile);

    /// <summary>Waits until the hostile guest's RX ring actor has taken every message sent to it so far.</summary>
    private async Task RxBarrierAsync()
    {
        var identity = await Sys.ActorSelection($"/user/xenbus/vif{Hostile}.0/rx").Ask<ActorIdentity>(new Identify(null), Timeout);
        Assert.NotNull(identity.Subject);
    }

    /// <summary>Runs <see cref="PairFrames"/> frames each way and checks them, within <see cref="Timeout"/>.</summary>
    private async Task AssertPairFlowsAsync(string meanwhile)
    {
        var run = _pair.RunAsync(PairFrames, _cts.Token);
        var finished = await Task.WhenAny(run, Task.Delay(Timeout)) == run;
        Assert.True(finished, $"the pair on guest {Hostile}'s lane did not pass {PairFrames} frames each way in {Timeout.TotalSeconds} s while guest {Hostile} {meanwhile} " +
            $"(sent {_pair.A.Sent}/{_pair.B.Sent}, received {_pair.A.Receiver.DistinctAtOrAboveFloor}/{_pair.B.Receiver.DistinctAtOrAboveFloor})");
        await run;
        await _pair.WaitDeliveredAsync(_cts.Token);
        _pair.AssertZeroLoss();
    }

    [Fact]
    public async Task A_guest_replaying_runts_for_ever_does_not_hold_its_lane()
    {
        // Every slot a runt (10 bytes, under the 14-byte minimum): answered with an error, nothing to copy.
        // A response overwrites only a request's gref, so the same slots stay runts for ever, and a guest
        // that sets req_prod = rsp_prod + 256 after every pass replays the whole ring at no cost. It asks
        // for a notification at the next response (rsp_event), and makes its move inside it (the hook).
        for (var i = 0; i < NetifConstants.TxRingSize; i++)
            _front.PutTx(new NetifTxRequest { Gref = 8, Id = (ushort)i, Size = 10 });
        _front.SetTxResponseEvent(_front.TxResponseProducer + 1);
        Volatile.Write(ref _replaying, 1);
        try
        {
            _front.PublishTxRequestProducer(_front.TxResponseProducer + NetifConstants.TxRingSize);
            await AssertPairFlowsAsync("replayed runts");
        }
        finally
        {
            Volatile.Write(ref _replaying, 0);
        }
        // The last replay, which the backend may have left for its next event.
        _front.Notify();

        var replays = Volatile.Read(ref _replays);
        Assert.True(replays > 1, $"the hostile guest replayed its ring {replays} times: the attack did not happen");
        // Every consumed request answered exactly once, each with an error, and the vif goes on.
        await AwaitAssertAsync(() =>
        {
            var status = HostileStatus;
            Assert.Equal(_front.TxRequestProducer, _front.TxResponseProducer);
            Assert.Equal(_front.TxResponseProducer, Volatile.Read(ref status.TxReqCons));
            Assert.Equal((long)_front.TxResponseProducer, Interlocked.Read(ref status.TxErrors));
        }, Timeout);
        Assert.False(HostileStatus.Disabled, $"runts are errors, not fatal: {HostileStatus.Fault}");
    }

    /// <summary>
    /// The replaying guest's move, inside each notification the backend sends: the next ring of runts, and a
    /// notification asked for at its first response.
    /// </summary>
    private void Replay(uint port)
    {
        if (Volatile.Read(ref _replaying) == 0)
            return;
        var answered = _front.TxResponseProducer;
        if (_front.TxRequestProducer == answered + NetifConstants.TxRingSize)
            return; // a notification to another guest, or one on this ring before the last replay was consumed
        Interlocked.Increment(ref _replays);
        _front.SetTxRequestProducer(answered + NetifConstants.TxRingSize);
        _front.SetTxResponseEvent(answered + 1);
    }

    [Fact]
    public async Task A_guest_moving_rx_req_prod_for_ever_without_room_for_its_frame_does_not_hold_its_lane()
    {
        // The pair's hellos were flooded to the hostile guest too: let them in first, and the bridge learns
        // the hostile guest's MAC from a frame it sends to guest 1.
        _front.PostRxBuffers(16);
        await RxBarrierAsync();
        await AwaitAssertAsync(() => Assert.Equal(0, Volatile.Read(ref HostileStatus.RxQueued)), Timeout);
        var answered = _front.RxResponseProducer;
        var probe = TrafficGuest.Marker(_pair.A.Mac, _front.Mac);
        _front.PutTx(new NetifTxRequest { Gref = _front.GrantTxData(0, probe), Id = 0, Size = (ushort)probe.Length });
        _front.PushTx();
        await AwaitAssertAsync(() => Assert.Equal(1, _pair.A.Receiver.MarkersFrom(_front.Mac)), Timeout);

        // A 9000-byte frame needs 3 RX slots; req_prod moves between 0, 1 and 2 requests posted for ever
        // (requests the guest posted above), so that the backend, seeing each time it looks again that
        // req_prod moved, never has room.
        _front.SetRxRequestProducer(answered);
        using var stop = new CancellationTokenSource();
        var toggle = Task.Run(() =>
        {
            var moves = 0;
            while (!stop.IsCancellationRequested)
                _front.SetRxRequestProducer(answered + (uint)(moves++ % 3));
            return moves;
        });
        try
        {
            var big = new byte[9000];
            _front.Mac.CopyTo(big, 0);
            _pair.A.Mac.CopyTo(big, 6);
            big[12] = 0x88;
            big[13] = 0xB5;
            await _pair.A.Netfront.SendAsync(big, default, _cts.Token);
            await AwaitAssertAsync(() => Assert.True(1 == Volatile.Read(ref HostileStatus.RxQueued),
                $"queued {HostileStatus.RxQueued}, dropped {HostileStatus.RxDropped}, delivered {HostileStatus.RxPackets}, rsp_prod {_front.RxResponseProducer}, answered {answered}"), Timeout);
            await AssertPairFlowsAsync("moved its RX req_prod");
        }
        finally
        {
            stop.Cancel();
        }
        await toggle;

        // Once req_prod leaves room for it, the frame goes, in three slots.
        _front.PostRxBuffers(0);
        await AwaitAssertAsync(() => Assert.Equal(answered + 3, _front.RxResponseProducer), Timeout);
        Assert.Equal(0, Volatile.Read(ref HostileStatus.RxQueued));
        Assert.False(HostileStatus.Disabled, $"req_prod within the ring is not fatal: {HostileStatus.Fault}");
    }

    [Fact]
    public async Task A_guest_notifying_in_a_tight_loop_is_held_to_few_wake_ups_and_its_lane_serves_the_others()
    {
        var before = _front.EventChannelCounters;
        using var stop = new CancellationTokenSource();
        var storm = Task.Run(() =>
        {
            var started = DateTime.UtcNow;
            long notified = 0;
            // At least a second of it, whatever the pair's pace.
            while (!stop.IsCancellationRequested || DateTime.UtcNow - started < TimeSpan.FromSeconds(1))
            {
                _front.Notify();
                notified++;
            }
            return notified;
        });
        try
        {
            await AssertPairFlowsAsync("notified in a tight loop");
        }
        finally
        {
            stop.Cancel();
        }
        var notified = await storm;
        var after = _front.EventChannelCounters;

        // Each wake-up the guest could send is one the backend's event-channel thread had to take: while
        // the backend handles an event the port stays pending (masked), so a notification then costs nothing.
        var wakeUps = (after.Notifications - after.Suppressed) - (before.Notifications - before.Suppressed);
        Assert.True(wakeUps * 100 < notified, $"{wakeUps} of the guest's {notified} notifications woke the backend up");
        // Each notification handed on is at most one message per ring actor; none brought anything new.
        var status = HostileStatus;
        var events = Interlocked.Read(ref status.Events);
        var spurious = Interlocked.Read(ref status.SpuriousEvents);
        Assert.True(events * 100 < notified, $"{events} of the guest's {notified} notifications reached its ring actors");
        Assert.True(spurious >= 2 && spurious >= events - 1, $"{spurious} of the {events} notifications handed on were counted spurious; none brought news");
    }

    [Fact]
    public async Task A_disabled_vif_is_not_listened_to_any_more_however_often_its_guest_notifies()
    {
        _front.PublishTxRequestProducer(_front.TxResponseProducer + NetifConstants.TxRingSize + 1);
        await AwaitAssertAsync(() => Assert.True(HostileStatus.Disabled, "an impossible req_prod should disable the vif"), Timeout);
        // Until both ring actors have heard that the vif is disabled, one of them may still unmask the
        // port once; after that it stays masked for good.
        for (var i = 0; i < 1000; i++)
            _front.Notify();
        await AssertPairFlowsAsync("notified after being disabled");
        var events = Interlocked.Read(ref HostileStatus.Events);

        var before = _front.EventChannelCounters;
        for (var i = 0; i < 1000; i++)
            _front.Notify();
        await AssertPairFlowsAsync("notified after being disabled");
        var after = _front.EventChannelCounters;
        Assert.Equal(events, Interlocked.Read(ref HostileStatus.Events));
        Assert.Equal(1000, after.Notifications - before.Notifications);
        // Its bit stays pending; only a notification racing the receive loop's look at the bitmap (woken
        // for another port) finds it clear for an instant and sends a wake-up, which finds the port masked.
        Assert.True(after.Suppressed - before.Suppressed >= 900, $"only {after.Suppressed - before.Suppressed} of 1000 notifications to a disabled vif were suppressed");
    }
}
