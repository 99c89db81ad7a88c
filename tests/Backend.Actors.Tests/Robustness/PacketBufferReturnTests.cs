using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Status;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Buffers;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// Packet buffers are native memory without a finalizer (the XSA-39 class of leak): every path that drops
/// a frame must return its buffer. A vif that stops with a grant copy in flight, frame batches waiting in
/// a stopped actor's mailbox or sent to it after it stopped, and guests reconnecting under full load all
/// leave <see cref="PacketBufferPool.Outstanding"/> at 0 once the traffic is over.
/// </summary>
public sealed class PacketBufferReturnTests : TestKit, IAsyncLifetime
{
    private const string Lane = GrantCopyActors.LaneDispatcherPrefix + "0";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(90));
    private readonly ITestOutputHelper _output;
    private SimBackendFixture _sim = null!;
    private TrafficPair? _pair;

    public PacketBufferReturnTests(ITestOutputHelper output) : base("akka.loglevel = INFO\n" + GrantCopyActors.DispatcherHocon(1), output) => _output = output;

    public async Task InitializeAsync() => _sim = await SimBackendFixture.CreateAsync();

    public async Task DisposeAsync()
    {
        await Sys.Terminate();
        if (_pair is not null)
            await _pair.DisposeAsync();
        await _sim.DisposeAsync();
        _cts.Dispose();
    }

    private PacketBufferPool Buffers => _sim.Buffers;

    private async Task AssertAllReturnedAsync(string what) =>
        await AwaitAssertAsync(() => Assert.True(Buffers.Outstanding == 0,
            $"{Buffers.Outstanding} packet buffers never came back {what}: " +
            VifDiagnostics.Describe(_sim.Status, Buffers, _pair?.Guests.Select(g => g.Netfront).ToArray() ?? [])), Timeout);

    private FrameBatch Batch(int frames)
    {
        var batch = FrameBatch.Rent();
        for (var i = 0; i < frames; i++)
        {
            var buffer = Buffers.Rent(1500);
            buffer.Length = 1500;
            buffer.Span[..6].Fill(0x02); // to a unicast MAC no bridge knows: flooded, or dropped alone
            batch.Add(buffer);
        }
        return batch;
    }

    [Fact]
    public async Task Frame_batches_waiting_in_a_stopped_actors_mailbox_or_sent_after_it_stopped_return_their_buffers()
    {
        var bridge = _sim.Bridges.Get("leak");
        var port = bridge.AddPort("p", TestActor);
        var parent = Sys.ActorOf(Props.Create(() => new StoppingParent(BridgePortActor.Props(bridge, port, Buffers).WithDispatcher(Lane))));
        var child = await parent.Ask<IActorRef>(StoppingParent.GetChild.Instance, Timeout);
        Watch(child);

        // The lane's only thread is held, so the batches wait in the port actor's mailbox; it is stopped
        // before it takes any of them.
        using var started = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        Sys.ActorOf(Props.Create(() => new LaneBlocker(started, gate)).WithDispatcher(Lane)).Tell("block");
        Assert.True(started.Wait(Timeout), "the lane's thread should be held");
        for (var i = 0; i < 3; i++)
            child.Tell(Batch(100));
        Assert.Equal(300, Buffers.Outstanding);
        await parent.Ask<StoppingParent.Stopped>(StoppingParent.StopChild.Instance, Timeout);
        gate.Set();
        ExpectTerminated(child, Timeout);

        // And a batch for an actor that has stopped (a bridge port whose vif has just gone).
        child.Tell(Batch(50));
        await AssertAllReturnedAsync("from batches a stopped actor never took");
    }

    [Fact]
    public async Task Frames_in_batches_sent_to_a_stopped_actor_are_counted_as_dead_lettered_in_the_registry()
    {
        var status = new VifStatusRegistry();
        var reclaimer = FrameBatchReclaimer.For(Sys);
        reclaimer.CountInto(status);
        var before = reclaimer.FramesDiscarded;
        var gone = Sys.ActorOf(Props.Create(() => new DeafActor()));
        Watch(gone);
        Sys.Stop(gone);
        ExpectTerminated(gone, Timeout);

        gone.Tell(Batch(3));
        gone.Tell(Batch(4));
        await AssertAllReturnedAsync("from batches sent to a stopped actor");
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(7, Interlocked.Read(ref status.FramesDeadLettered));
            Assert.Equal(before + 7, reclaimer.FramesDiscarded);
        }, Timeout);
    }

    [Fact]
    public async Task A_frame_batch_that_its_receiver_does_not_handle_returns_its_buffers_once()
    {
        FrameBatchReclaimer.For(Sys);
        var deaf = Sys.ActorOf(Props.Create(() => new DeafActor()));
        // Discarded once: a second discard would throw (a batch released twice) in the reclaimer.
        await EventFilter.Exception<InvalidOperationException>().ExpectAsync(0, async () =>
        {
            deaf.Tell(Batch(5));
            await AssertAllReturnedAsync("from a batch nobody handled");
            deaf.Tell(Batch(5));
            await AssertAllReturnedAsync("from a second batch nobody handled");
        });
    }

    /// <summary>A vif world whose hypercall actor holds the batches of one ring kind until told.</summary>
    private async Task<IActorRef> StartWithGatedCopierAsync()
    {
        var copier = Sys.ActorOf(GrantCopyActor.Props(_sim.Platform.CreateGrantCopier()), "copier");
        var gated = Sys.ActorOf(Props.Create(() => new GatedCopier(copier)), "gated-copier");
        var services = new BackendServices(_sim.Platform, _sim.BackendXenStore, _sim.Bridges, Buffers,
            new GrantCopyActors([new HypercallLane(gated, null)]), _sim.Status, new BackendOptions { WriteHotplugStatus = true });
        var toolstack = new SimToolstack(_sim.XenStore);
        _pair = await TrafficPair.StartAsync(_sim, toolstack, 1, 2);
        Sys.ActorOf(XenbusSupervisor.Props(services), "xenbus");
        await _pair.ConnectAsync(_cts.Token);
        return gated;
    }

    private async Task AssertVifGoneAsync(ushort domid) =>
        await AwaitAssertAsync(async () =>
        {
            var identity = await Sys.ActorSelection($"/user/xenbus/vif{domid}.0").Ask<ActorIdentity>(new Identify(null), Timeout);
            Assert.Null(identity.Subject);
        }, Timeout);

    [Theory]
    [InlineData("tx", 1)] // guest 1's TX actor stops while its copy from guest 1's grants is under way
    [InlineData("rx", 2)] // guest 2's RX actor stops while its copy into guest 2's grants is under way
    public async Task A_vif_stopped_with_a_copy_in_flight_gets_its_buffers_back_once_the_copy_is_done(string ring, ushort stopped)
    {
        var gated = await StartWithGatedCopierAsync();
        await gated.Ask<GatedCopier.Holding>(new GatedCopier.Hold(ring), Timeout);
        var frame = new byte[1000];
        CheckedFrames.Write(frame, _pair!.A.PeerMac, _pair.A.Mac, 0);
        for (var i = 0; i < 10; i++)
            await _pair.A.Netfront.SendAsync(frame, default, _cts.Token);
        await AwaitAssertAsync(async () => Assert.True(await gated.Ask<int>(GatedCopier.CountHeld.Instance, Timeout) > 0, $"no {ring} copy was held"), Timeout);

        await new SimToolstack(_sim.XenStore).RemoveVifAsync(stopped, 0, cancellationToken: _cts.Token);
        await AssertVifGoneAsync(stopped);
        // The copy completes after its ring actor has gone.
        gated.Tell(GatedCopier.Release.Instance);
        await AssertAllReturnedAsync($"from the {ring} copy in flight when vif{stopped}.0 stopped");
    }

    [Fact]
    public async Task Guests_reconnecting_again_and_again_under_full_load_leave_no_buffer_outstanding()
    {
        _pair = await TrafficPair.StartAsync(_sim, new SimToolstack(_sim.XenStore), 1, 2);
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), "xenbus");
        await _pair.ConnectAsync(_cts.Token);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        var blasts = _pair.Guests.Select(g => BlastAsync(g, stop.Token)).ToList();
        for (var cycle = 0; cycle < 6; cycle++)
        {
            var guest = cycle % 2 == 0 ? _pair.A : _pair.B;
            // Full load both ways before each stop: TX copies in flight, RX queues and mailboxes full.
            while (guest.Peer.Netfront.Counters.Received < 2000 * (cycle + 1))
                await Task.Delay(2, _cts.Token);
            await guest.Netfront.ReconnectAsync(_cts.Token);
            await guest.SendHelloAsync(_cts.Token);
        }
        await stop.CancelAsync();
        await Task.WhenAll(blasts);
        foreach (var g in _pair.Guests)
            await g.Netfront.WaitForTxIdleAsync(_cts.Token);
        _output.WriteLine($"created {Buffers.Created}, outstanding {Buffers.Outstanding}");
        await AssertAllReturnedAsync("after six reconnects under load");
    }

    [Fact]
    public async Task Once_the_last_vif_is_gone_the_pool_gives_back_every_buffer_it_kept()
    {
        var toolstack = new SimToolstack(_sim.XenStore);
        _pair = await TrafficPair.StartAsync(_sim, toolstack, 1, 2);
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), "xenbus");
        await _pair.ConnectAsync(_cts.Token);
        using (var stop = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token))
        {
            var blasts = _pair.Guests.Select(g => BlastAsync(g, stop.Token)).ToList();
            while (_pair.B.Netfront.Counters.Received < 2000)
                await Task.Delay(2, _cts.Token);
            await stop.CancelAsync();
            await Task.WhenAll(blasts);
        }
        foreach (var g in _pair.Guests)
            await g.Netfront.WaitForTxIdleAsync(_cts.Token);
        await AssertAllReturnedAsync("after the traffic");
        var kept = Buffers.Kept;
        Assert.True(kept > 0, "the traffic left no buffer kept for reuse");

        // One vif left: the pool keeps what it has for it.
        await toolstack.RemoveVifAsync(1, 0, cancellationToken: _cts.Token);
        await AssertVifGoneAsync(1);
        Assert.Equal(kept, Buffers.Kept);
        // None left: everything kept goes back to the system (decision 85).
        await toolstack.RemoveVifAsync(2, 0, cancellationToken: _cts.Token);
        await AssertVifGoneAsync(2);
        await AwaitAssertAsync(() => Assert.Equal(0, Buffers.Kept), Timeout);
        Assert.Equal(0, Buffers.Outstanding);
    }

    /// <summary>Sends 1500-byte marker frames to the peer as fast as the ring takes them, across reconnects.</summary>
    private static async Task BlastAsync(TrafficGuest guest, CancellationToken ct)
    {
        var frame = new byte[1500];
        TrafficGuest.Marker(guest.PeerMac, guest.Mac).CopyTo(frame, 0);
        try
        {
            while (true)
            {
                try
                {
                    await guest.Netfront.SendAsync(frame, default, ct);
                }
                catch (InvalidOperationException)
                {
                    await Task.Delay(1, ct); // reconnecting: no rings for a moment
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops its child when told, and answers once the child's stop is queued (Akka's Context.Stop is synchronous).</summary>
    private sealed class StoppingParent : ReceiveActor
    {
        public StoppingParent(Props child)
        {
            var c = Context.ActorOf(child, "child");
            Receive<GetChild>(_ => Sender.Tell(c));
            Receive<StopChild>(_ =>
            {
                Context.Stop(c);
                Sender.Tell(Stopped.Instance);
            });
        }

        public sealed class GetChild
        {
            public static readonly GetChild Instance = new();
        }

        public sealed class StopChild
        {
            public static readonly StopChild Instance = new();
        }

        public sealed class Stopped
        {
            public static readonly Stopped Instance = new();
        }
    }

    /// <summary>Handles nothing.</summary>
    private sealed class DeafActor : ReceiveActor
    {
    }


    /// <summary>A hypercall actor's stand-in: passes batches to the real one, but holds those of one ring kind while told to.</summary>
    private sealed class GatedCopier : ReceiveActor
    {
        private readonly List<GrantCopyBatch> _held = [];
        private string? _holding;

        public GatedCopier(IActorRef copier)
        {
            Receive<GrantCopyBatch>(batch =>
            {
                if (_holding is not null && batch.Owner.Path.Name.StartsWith(_holding, StringComparison.Ordinal))
                    _held.Add(batch);
                else
                    copier.Tell(batch);
            });
            Receive<Hold>(h =>
            {
                _holding = h.Ring;
                Sender.Tell(Holding.Instance);
            });
            Receive<Release>(_ =>
            {
                _holding = null;
                foreach (var batch in _held)
                    copier.Tell(batch);
                _held.Clear();
            });
            Receive<CountHeld>(_ => Sender.Tell(_held.Count));
        }

        public sealed record Hold(string Ring);

        public sealed class Holding
        {
            public static readonly Holding Instance = new();
        }

        public sealed class Release
        {
            public static readonly Release Instance = new();
        }

        public sealed class CountHeld
        {
            public static readonly CountHeld Instance = new();
        }
    }
}
