using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Hypercall;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// What one guest's incoming frames may hold of the daemon's memory when it does not take them: its RX
/// queue is bounded in bytes as well as frames (SIMXEN's 512 frames of MTU size, and its zero-loss window
/// of 64 KiB GSO frames, always fit), and the frames on their way to it (in its RX actor's mailbox, when
/// its lane is busy) are bounded too; the rest are dropped and counted.
/// </summary>
public sealed class ReceiveBoundTests : TestKit, IAsyncLifetime
{
    private const int GsoFrameLength = 65535;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(60));
    private readonly List<IAsyncDisposable> _disposables = [];
    private SimBackendFixture _sim = null!;
    private SimToolstack _toolstack = null!;

    public ReceiveBoundTests() : base("akka.loglevel = INFO\n" + GrantCopyActors.DispatcherHocon(2))
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        _toolstack = new SimToolstack(_sim.XenStore);
    }

    public async Task DisposeAsync()
    {
        await Sys.Terminate();
        for (var i = _disposables.Count - 1; i >= 0; i--)
            await _disposables[i].DisposeAsync();
        await _sim.DisposeAsync();
        _cts.Dispose();
    }

    private async Task<SimNetfront> StartNetfrontAsync(ushort domid, bool gso)
    {
        await _toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = domid, Handle = 0, Mac = TrafficGuest.MacText(domid) });
        var client = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _disposables.Add(client);
        var netfront = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = _sim.Root, DomId = domid, FeatureGsoTcpV4 = gso }, client);
        _disposables.Add(netfront);
        return netfront;
    }

    [Theory]
    [InlineData(1500, false, 512 * 1514)]        // 512 frames of the MTU: more than Linux's 512 KiB
    [InlineData(576, false, 512 * 1024)]         // Linux's 512 KiB, which holds 512 frames of 590 bytes
    [InlineData(9000, false, 512 * 9014)]
    [InlineData(1500, true, 256 * 65535)]        // a zero-loss window of 64 KiB GSO frames
    [InlineData(65521, true, 512 * 65535)]
    public void Rx_queue_byte_bound_keeps_simxens_promises(int mtu, bool gso, long bytes) =>
        Assert.Equal(bytes, new BackendOptions().RxQueueBytesFor(mtu, gso));

    [Fact]
    public async Task A_guest_that_posts_no_rx_buffers_flooded_with_64_KiB_gso_frames_queues_at_most_its_byte_bound_and_the_rest_are_dropped()
    {
        var options = new BackendOptions { WriteHotplugStatus = true };
        var sender = await StartNetfrontAsync(1, gso: true);
        const ushort receiver = 3;
        await _toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = receiver, Handle = 0, Mac = TrafficGuest.MacText(receiver) });
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys, options)), "xenbus");
        var client = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _disposables.Add(client);
        // Posts no RX buffer, ever; negotiates GSO, so the frames are queued whole.
        var front = await HostileFrontend.ConnectAsync(_sim.Root, client, receiver, 0, _cts.Token);
        _disposables.Add(front);
        await sender.WaitForConnectedAsync(_cts.Token);

        const int sent = 600;
        var frame = Packets.TcpIpv4(front.Mac, TrafficGuest.MacOf(1), GsoFrameLength);
        for (var i = 0; i < sent; i++)
            await sender.SendAsync(frame, new SimTxOptions { GsoType = NetifGsoType.TcpV4, GsoSize = 1448 }, _cts.Token);
        await sender.WaitForTxIdleAsync(_cts.Token);

        var status = _sim.Status.Snapshot().Single(v => v.Id.DomId == receiver);
        var port = _sim.Bridges.Get(SimVifSpec.DefaultBridge).Ports.Single(p => p.Name == $"vif{receiver}.0");
        long Accounted() => Volatile.Read(ref status.RxQueued) + Interlocked.Read(ref status.RxDropped) + Interlocked.Read(ref port.FramesDroppedBacklog);
        await AwaitAssertAsync(() => Assert.Equal(sent, Accounted()), Timeout);

        // Linux's rule: a frame is queued while the queue holds less than the bound; for a frontend with
        // GSO that is SIMXEN's zero-loss window of the largest frames.
        var bound = options.RxQueueBytesFor(1500, gso: true);
        var mostQueued = (int)((bound + GsoFrameLength - 1) / GsoFrameLength);
        var queued = Volatile.Read(ref status.RxQueued);
        Assert.True(queued <= mostQueued, $"{queued} frames of {GsoFrameLength} bytes queued; the bound of {bound} bytes admits {mostQueued}");
        Assert.True(queued >= BackendOptions.ZeroLossWindow, $"{queued} frames queued; SIMXEN's zero-loss window is {BackendOptions.ZeroLossWindow}");
        Assert.Equal(sent - queued, Interlocked.Read(ref status.RxDropped) + Interlocked.Read(ref port.FramesDroppedBacklog));
        // And that is all the memory the frames hold.
        Assert.Equal(queued, _sim.Buffers.Outstanding);
    }

    [Fact]
    public async Task Frames_for_a_guest_whose_lane_is_held_wait_in_bounded_numbers_and_the_rest_are_dropped_and_counted()
    {
        // Two lanes: guest 1 (the sender) runs on lane 1, guest 2 on lane 0, which the test holds.
        var lanes = GrantCopyActors.Start(Sys, 2, _sim.Platform.CreateGrantCopier);
        var options = new BackendOptions { WriteHotplugStatus = true };
        var services = new BackendServices(_sim.Platform, _sim.BackendXenStore, _sim.Bridges, _sim.Buffers, lanes, _sim.Status, options);
        var pair = await TrafficPair.StartAsync(_sim, _toolstack, 1, 2);
        _disposables.Add(pair);
        Sys.ActorOf(XenbusSupervisor.Props(services), "xenbus");
        await pair.ConnectAsync(_cts.Token);

        using var started = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        Sys.ActorOf(Props.Create(() => new LaneBlocker(started, gate)).WithDispatcher(GrantCopyActors.LaneDispatcherPrefix + "0")).Tell("hold");
        Assert.True(started.Wait(Timeout), "lane 0 should be held");
        try
        {
            const int sent = 3000;
            var frame = new byte[1514];
            TrafficGuest.Marker(pair.B.Mac, pair.A.Mac).CopyTo(frame, 0);
            for (var i = 0; i < sent; i++)
                await pair.A.Netfront.SendAsync(frame, default, _cts.Token);
            await pair.A.Netfront.WaitForTxIdleAsync(_cts.Token);

            // Once guest 1's bridge port has forwarded its last batch (on lane 1, after the TX responses).
            var port = _sim.Bridges.Get(SimVifSpec.DefaultBridge).Ports.Single(p => p.Name == "vif2.0");
            await AwaitAssertAsync(() =>
            {
                var waiting = _sim.Buffers.Outstanding;
                Assert.True(waiting <= options.RxQueueLength, $"{waiting} frames wait for guest 2's held lane; at most {options.RxQueueLength} may");
                Assert.Equal(sent, waiting + Interlocked.Read(ref port.FramesDroppedBacklog));
            }, Timeout);
        }
        finally
        {
            gate.Set();
        }
        // Once the lane runs again, what waited is delivered and every buffer comes back.
        await AwaitAssertAsync(() => Assert.Equal(0, _sim.Buffers.Outstanding), Timeout);
    }
}
