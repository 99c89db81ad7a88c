using Backend.Xen.Platform.Sim.Netfront;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Hypercall;
using Backend.Actors.Tests.Support;
using Backend.Xen.Abi;

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
    private const ushort Hostile = HostileWorld.Hostile;
    private const int PairFrames = 200;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(60));
    private HostileWorld _world = null!;
    private int _replaying;
    private int _replays;

    public LaneFairnessTests() : base("akka.loglevel = INFO\n" + GrantCopyActors.DispatcherHocon(1))
    {
    }

    // One lane: the three guests' rings and bridge ports all run on its one thread.
    public async Task InitializeAsync() =>
        _world = await HostileWorld.StartAsync(Sys, sim => sim.ServicesOnLanes(Sys, 1, new NotifyHookPlatform(sim.Platform, Replay)), _cts.Token);

    public async Task DisposeAsync()
    {
        await Sys.Terminate();
        await _world.DisposeAsync();
        _cts.Dispose();
    }

    private HostileFrontend Front => _world.Front;

    private TrafficPair Pair => _world.Pair;

    private Backend.Actors.Status.VifStatus HostileStatus => _world.HostileStatus;

    /// <summary>Waits until the hostile guest's RX ring actor has taken every message sent to it so far.</summary>
    private async Task RxBarrierAsync()
    {
        var identity = await Sys.ActorSelection($"/user/xenbus/vif{Hostile}.0/queue-0/rx").Ask<ActorIdentity>(new Identify(null), Timeout);
        Assert.NotNull(identity.Subject);
    }

    /// <summary>Runs <see cref="PairFrames"/> frames each way and checks them, within <see cref="Timeout"/>.</summary>
    private async Task AssertPairFlowsAsync(string meanwhile)
    {
        var run = Pair.RunAsync(PairFrames, _cts.Token);
        var finished = await Task.WhenAny(run, Task.Delay(Timeout)) == run;
        Assert.True(finished, $"the pair on guest {Hostile}'s lane did not pass {PairFrames} frames each way in {Timeout.TotalSeconds} s while guest {Hostile} {meanwhile} " +
            $"(sent {Pair.A.Sent}/{Pair.B.Sent}, received {Pair.A.Receiver.DistinctAtOrAboveFloor}/{Pair.B.Receiver.DistinctAtOrAboveFloor})");
        await run;
        await Pair.WaitDeliveredAsync(_cts.Token);
        Pair.AssertZeroLoss();
    }

    [Fact]
    public async Task A_guest_replaying_runts_for_ever_does_not_hold_its_lane()
    {
        // Every slot a runt (10 bytes, under the 14-byte minimum): answered with an error, nothing to copy.
        // A response overwrites only a request's gref, so the same slots stay runts for ever, and a guest
        // that sets req_prod = rsp_prod + 256 after every pass replays the whole ring at no cost. It asks
        // for a notification at the next response (rsp_event), and makes its move inside it (the hook).
        for (var i = 0; i < NetifConstants.TxRingSize; i++)
            Front.PutTx(new NetifTxRequest { Gref = 8, Id = (ushort)i, Size = 10 });
        Front.SetTxResponseEvent(Front.TxResponseProducer + 1);
        Volatile.Write(ref _replaying, 1);
        try
        {
            Front.PublishTxRequestProducer(Front.TxResponseProducer + NetifConstants.TxRingSize);
            await AssertPairFlowsAsync("replayed runts");
        }
        finally
        {
            Volatile.Write(ref _replaying, 0);
        }
        // The last replay, which the backend may have left for its next event.
        Front.Notify();

        var replays = Volatile.Read(ref _replays);
        Assert.True(replays > 1, $"the hostile guest replayed its ring {replays} times: the attack did not happen");
        // Every consumed request answered exactly once, each with an error, and the vif goes on.
        await AwaitAssertAsync(() =>
        {
            var status = HostileStatus;
            Assert.Equal(Front.TxRequestProducer, Front.TxResponseProducer);
            Assert.Equal(Front.TxResponseProducer, Volatile.Read(ref status.TxReqCons));
            Assert.Equal((long)Front.TxResponseProducer, Interlocked.Read(ref status.TxErrors));
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
        var answered = Front.TxResponseProducer;
        if (Front.TxRequestProducer == answered + NetifConstants.TxRingSize)
            return; // a notification to another guest, or one on this ring before the last replay was consumed
        Interlocked.Increment(ref _replays);
        Front.SetTxRequestProducer(answered + NetifConstants.TxRingSize);
        Front.SetTxResponseEvent(answered + 1);
    }

    [Fact]
    public async Task A_guest_moving_rx_req_prod_for_ever_without_room_for_its_frame_does_not_hold_its_lane()
    {
        // The pair's hellos were flooded to the hostile guest too: let them in first, and the bridge learns
        // the hostile guest's MAC from a frame it sends to guest 1.
        Front.PostRxBuffers(16);
        await RxBarrierAsync();
        await AwaitAssertAsync(() => Assert.Equal(0, Volatile.Read(ref HostileStatus.RxQueued)), Timeout);
        var answered = Front.RxResponseProducer;
        var probe = TrafficGuest.Marker(Pair.A.Mac, Front.Mac);
        Front.PutTx(new NetifTxRequest { Gref = Front.GrantTxData(0, probe), Id = 0, Size = (ushort)probe.Length });
        Front.PushTx();
        await AwaitAssertAsync(() => Assert.Equal(1, Pair.A.Receiver.MarkersFrom(Front.Mac)), Timeout);

        // A 9000-byte frame needs 3 RX slots; req_prod moves between 0, 1 and 2 requests posted for ever
        // (requests the guest posted above), so that the backend, seeing each time it looks again that
        // req_prod moved, never has room.
        Front.SetRxRequestProducer(answered);
        using var stop = new CancellationTokenSource();
        var toggle = Task.Run(() =>
        {
            var moves = 0;
            while (!stop.IsCancellationRequested)
                Front.SetRxRequestProducer(answered + (uint)(moves++ % 3));
            return moves;
        });
        try
        {
            var big = new byte[9000];
            CheckedFrames.Write(big, Front.Mac, Pair.A.Mac, 0);
            await Pair.A.Netfront.SendAsync(big, default, _cts.Token);
            await AwaitAssertAsync(() => Assert.True(1 == Volatile.Read(ref HostileStatus.RxQueued),
                $"queued {HostileStatus.RxQueued}, dropped {HostileStatus.RxDropped}, delivered {HostileStatus.RxPackets}, rsp_prod {Front.RxResponseProducer}, answered {answered}"), Timeout);
            await AssertPairFlowsAsync("moved its RX req_prod");
        }
        finally
        {
            stop.Cancel();
        }
        await toggle;

        // Once req_prod leaves room for it, the frame goes, in three slots.
        Front.PostRxBuffers(0);
        await AwaitAssertAsync(() => Assert.Equal(answered + 3, Front.RxResponseProducer), Timeout);
        Assert.Equal(0, Volatile.Read(ref HostileStatus.RxQueued));
        Assert.False(HostileStatus.Disabled, $"req_prod within the ring is not fatal: {HostileStatus.Fault}");
    }

    [Fact]
    public async Task A_guest_notifying_in_a_tight_loop_is_held_to_few_wake_ups_and_its_lane_serves_the_others()
    {
        var before = Front.EventChannelCounters;
        using var stop = new CancellationTokenSource();
        var storm = Task.Run(() =>
        {
            var started = DateTime.UtcNow;
            long notified = 0;
            // At least a second of it, whatever the pair's pace.
            while (!stop.IsCancellationRequested || DateTime.UtcNow - started < TimeSpan.FromSeconds(1))
            {
                Front.Notify();
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
        var after = Front.EventChannelCounters;

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
        Front.PublishTxRequestProducer(Front.TxResponseProducer + NetifConstants.TxRingSize + 1);
        await AwaitAssertAsync(() => Assert.True(HostileStatus.Disabled, "an impossible req_prod should disable the vif"), Timeout);
        // Until both ring actors have heard that the vif is disabled, one of them may still unmask the
        // port once; after that it stays masked for good.
        for (var i = 0; i < 1000; i++)
            Front.Notify();
        await AssertPairFlowsAsync("notified after being disabled");
        var events = Interlocked.Read(ref HostileStatus.Events);

        var before = Front.EventChannelCounters;
        for (var i = 0; i < 1000; i++)
            Front.Notify();
        await AssertPairFlowsAsync("notified after being disabled");
        var after = Front.EventChannelCounters;
        Assert.Equal(events, Interlocked.Read(ref HostileStatus.Events));
        Assert.Equal(1000, after.Notifications - before.Notifications);
        // Its bit stays pending; only a notification racing the receive loop's look at the bitmap (woken
        // for another port) finds it clear for an instant and sends a wake-up, which finds the port masked.
        Assert.True(after.Suppressed - before.Suppressed >= 900, $"only {after.Suppressed - before.Suppressed} of 1000 notifications to a disabled vif were suppressed");
    }
}
