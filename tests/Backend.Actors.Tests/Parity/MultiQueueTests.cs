using System.Buffers.Binary;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Rings;
using Backend.Actors.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Netback;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Parity;

/// <summary>
/// Multi-queue against the daemon (issue 15, item 1): netfronts that ask for 2 and 4 queues get them, send
/// on every TX queue and receive on every RX queue, each flow on the queue its flow hash picks and in order;
/// a one-queue guest beside them is unchanged; a fault in one queue's ring actor restarts that queue only;
/// a frontend with a bad queue count or missing queue keys is refused without disturbing the others.
/// </summary>
public sealed class MultiQueueTests : TestKit, IAsyncLifetime
{
    private const int Flows = 32;
    private const int FramesPerFlow = 40;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly List<IAsyncDisposable> _disposables = [];
    private SimBackendFixture _sim = null!;
    private InProcessDaemon _daemon = null!;

    public MultiQueueTests(ITestOutputHelper output) : base("akka.loglevel = INFO", output)
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        await _sim.Platform.DisposeAsync();
        _daemon = await InProcessDaemon.StartAsync(_sim, "xnb-mq", maxQueues: 4);
    }

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        foreach (var d in _disposables)
            await d.DisposeAsync();
        await _sim.DisposeAsync();
    }

    /// <summary>A guest's netfront with its flow counter.</summary>
    private sealed class FlowGuest(SimNetfront netfront, IXenStore client, ushort domid) : IAsyncDisposable
    {
        public SimNetfront Netfront { get; } = netfront;

        public ushort DomId { get; } = domid;

        public SimFlowCounter Counter { get; } = new(0x0A000000u | domid, Flows);

        public int Received => Counter.Received;

        public int OutOfOrder => Counter.OutOfOrder;

        public async ValueTask DisposeAsync()
        {
            await Netfront.DisposeAsync();
            await client.DisposeAsync();
        }
    }

    private async Task<FlowGuest> StartGuestAsync(ushort domid, int queues, bool ctrlRing = false)
    {
        await RateGuest.CreateVifAsync(_sim, domid, "mq");
        var client = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        var netfront = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = _sim.Root, DomId = domid, Queues = queues, CtrlRing = ctrlRing }, client);
        var guest = new FlowGuest(netfront, client, domid);
        netfront.Consumer = guest.Counter;
        _disposables.Add(guest);
        await netfront.WaitForConnectedAsync(new CancellationTokenSource(Timeout).Token);
        return guest;
    }

    /// <summary>An IPv4/UDP frame of <paramref name="flow"/> (its source port) from <paramref name="from"/> to <paramref name="to"/>, carrying flow and sequence.</summary>
    private static byte[] FlowFrame(ushort from, ushort to, int flow, int seq)
    {
        var frame = new byte[14 + 20 + 8 + 8 + 64];
        TrafficGuest.MacOf(to).CopyTo(frame, 0);
        TrafficGuest.MacOf(from).CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - 14));
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A000000u | from);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0A000000u | to);
        BinaryPrimitives.WriteUInt16BigEndian(ip[20..], (ushort)(20000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(ip[22..], 5001);
        BinaryPrimitives.WriteUInt16BigEndian(ip[24..], (ushort)(frame.Length - 34));
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(42), flow);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(46), seq);
        return frame;
    }

    /// <summary>A broadcast from <paramref name="g"/>, so that the bridge learns its MAC.</summary>
    private static async Task HelloAsync(FlowGuest g)
    {
        var frame = new byte[60];
        frame.AsSpan(0, 6).Fill(0xFF);
        TrafficGuest.MacOf(g.DomId).CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88b5);
        await g.Netfront.SendAsync(frame);
    }

    /// <summary>
    /// Every flow from <paramref name="from"/> to <paramref name="to"/>, flow f on TX queue f mod the sender's
    /// queues, at most SIMXEN's zero-loss window (256 frames) in flight: a round of every flow at a time, the
    /// next once the receiver has all but a window of what was sent.
    /// </summary>
    private async Task SendFlowsAsync(FlowGuest from, FlowGuest to, int firstSeq = 0)
    {
        var queues = from.Netfront.QueueCount;
        var start = to.Received;
        for (var seq = 0; seq < FramesPerFlow; seq++)
        {
            var sent = seq * Flows;
            if (sent - (to.Received - start) > BackendOptions.ZeroLossWindow - Flows)
                await AwaitAssertAsync(() => Assert.True(sent - (to.Received - start) <= BackendOptions.ZeroLossWindow - Flows, $"{to.Received - start} of {sent} arrived"), Timeout);
            for (var flow = 0; flow < Flows; flow++)
                await from.Netfront.SendAsync(flow % queues, FlowFrame(from.DomId, to.DomId, flow, firstSeq + seq));
        }
    }

    /// <summary>The frames of the flows that <see cref="FlowHashQueueSelector"/> puts on each of <paramref name="queues"/> queues.</summary>
    private static int[] ExpectedPerQueue(ushort from, ushort to, int queues)
    {
        var perQueue = new int[queues];
        for (var flow = 0; flow < Flows; flow++)
            perQueue[FlowHashQueueSelector.Instance.Select(FlowFrame(from, to, flow, 0), queues)] += FramesPerFlow;
        return perQueue;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Every_queue_carries_traffic_each_flow_on_its_hashed_queue_and_in_order(int queues)
    {
        var a = await StartGuestAsync(61, queues);
        var b = await StartGuestAsync(62, queues);
        Assert.Equal(queues, a.Netfront.QueueCount);
        Assert.Equal($"{queues}", await _sim.XenStore.ReadAsync($"{SimToolstack.FrontendPath(61, 0)}/multi-queue-num-queues"));
        await HelloAsync(a);
        await HelloAsync(b);
        await AwaitAssertAsync(() => Assert.Equal(2, _daemon.Status.Snapshot().Count(v => v.Carrier)), Timeout);

        await SendFlowsAsync(a, b);
        await SendFlowsAsync(b, a);
        const int total = Flows * FramesPerFlow;
        await AwaitAssertAsync(() => Assert.True(a.Received == total && b.Received == total, $"received {a.Received} and {b.Received} of {total}; {a.Netfront.DescribeRings()} / {b.Netfront.DescribeRings()}"), Timeout);
        Assert.Equal(0, a.OutOfOrder);
        Assert.Equal(0, b.OutOfOrder);

        // Each RX queue got exactly the flows the hash gave it (queue 0 also the peer's hello).
        var expected = ExpectedPerQueue(61, 62, queues);
        Assert.True(expected.All(n => n > 0), $"the flows do not cover every queue: {string.Join(',', expected)}");
        for (var q = 0; q < queues; q++)
        {
            var (sent, received) = b.Netfront.QueueCounters(q);
            Assert.Equal(expected[q] + (q == 0 ? 1 : 0), received);
            Assert.True(sent > 0, $"nothing sent on queue {q}");
        }

        // The daemon's per-queue figures, and the queue level in the actor tree.
        var status = _daemon.Status.Snapshot().Single(v => v.Id.DomId == 62);
        Assert.Equal(queues, status.Queues.Length);
        for (var q = 0; q < queues; q++)
        {
            Assert.True(status.Queues[q].TxPackets > 0 && status.Queues[q].RxPackets > 0, $"queue {q}: tx {status.Queues[q].TxPackets} rx {status.Queues[q].RxPackets}");
            var identity = await _daemon.System.ActorSelection($"/user/xenbus/vif62.0/queue-{q}/tx").Ask<ActorIdentity>(new Identify(null), Timeout);
            Assert.NotNull(identity.Subject);
        }
        Assert.Equal(status.TxPackets, status.Queues.Sum(q => q.TxPackets));
        Assert.Equal(status.RxPackets, status.Queues.Sum(q => q.RxPackets));
    }

    /// <summary>
    /// Linux's xenvif_select_queue with a control ring: while the frontend's algorithm is NONE the backend's
    /// flow hash picks the queue; once it chose Toeplitz, the hash of each frame through its mapping table
    /// does, and the table's entries are checked against the vif's real queue count (4 here, so 3 is taken
    /// and 4 refused).
    /// </summary>
    [Fact]
    public async Task A_ctrl_ring_frontends_mapping_table_picks_the_rx_queue_checked_against_its_queue_count()
    {
        var a = await StartGuestAsync(70, 1);
        var b = await StartGuestAsync(71, 4, ctrlRing: true);
        Assert.True(b.Netfront.HasCtrlRing);
        await HelloAsync(a);
        await HelloAsync(b);
        await AwaitAssertAsync(() => Assert.Equal(2, _daemon.Status.Snapshot().Count(v => v.Carrier)), Timeout);
        const int total = Flows * FramesPerFlow;

        await SendFlowsAsync(a, b);
        await AwaitAssertAsync(() => Assert.Equal(total, b.Received), Timeout);
        var expected = ExpectedPerQueue(70, 71, 4);
        var before = new long[4];
        for (var q = 0; q < 4; q++)
        {
            before[q] = b.Netfront.QueueCounters(q).Received;
            Assert.Equal(expected[q] + (q == 0 ? 1 : 0), before[q]);
        }

        // Toeplitz over the IPv4 addresses (all flows share them: one hash), through a table of queue 3.
        using var cts = new CancellationTokenSource(Timeout);
        var key = Convert.FromHexString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");
        await ExpectCtrl(NetifCtrlStatus.Success, b.Netfront.CtrlRequestAsync(NetifCtrlType.SetHashAlgorithm, NetifCtrlStatus.HashAlgorithmToeplitz, cancellationToken: cts.Token));
        await ExpectCtrl(NetifCtrlStatus.Success, b.Netfront.SetHashKeyAsync(key, cts.Token));
        await ExpectCtrl(NetifCtrlStatus.Success, b.Netfront.CtrlRequestAsync(NetifCtrlType.SetHashFlags, NetifCtrlStatus.HashTypeIpv4, cancellationToken: cts.Token));
        await ExpectCtrl(NetifCtrlStatus.Success, b.Netfront.CtrlRequestAsync(NetifCtrlType.SetHashMappingSize, 8, cancellationToken: cts.Token));
        await ExpectCtrl(NetifCtrlStatus.InvalidParameter, b.Netfront.SetHashMappingAsync([0, 1, 2, 4], 0, cts.Token));
        await ExpectCtrl(NetifCtrlStatus.Success, b.Netfront.SetHashMappingAsync([3, 3, 3, 3, 3, 3, 3, 3], 0, cts.Token));

        // Each flow's sequence goes on where the first round ended: a flow moved to queue 3 stays in order.
        await SendFlowsAsync(a, b, FramesPerFlow);
        await AwaitAssertAsync(() => Assert.Equal(2 * total, b.Received), Timeout);
        Assert.Equal(0, b.OutOfOrder);
        for (var q = 0; q < 4; q++)
            Assert.Equal(before[q] + (q == 3 ? total : 0), b.Netfront.QueueCounters(q).Received);
    }

    private static async Task ExpectCtrl(uint status, Task<NetifCtrlResponse> request)
    {
        var response = await request;
        Assert.True(status == response.Status, $"ctrl request type {response.Type}: status {response.Status}, expected {status}");
    }

    [Fact]
    public async Task A_one_queue_guest_beside_a_multi_queue_one_is_unchanged()
    {
        var one = await StartGuestAsync(63, 1);
        var four = await StartGuestAsync(64, 4);
        Assert.Equal(1, one.Netfront.QueueCount);
        Assert.Null(await _sim.XenStore.ReadAsync($"{SimToolstack.FrontendPath(63, 0)}/multi-queue-num-queues"));
        Assert.NotNull(await _sim.XenStore.ReadAsync($"{SimToolstack.FrontendPath(63, 0)}/tx-ring-ref"));
        await HelloAsync(one);
        await HelloAsync(four);
        await AwaitAssertAsync(() => Assert.Equal(2, _daemon.Status.Snapshot().Count(v => v.Carrier)), Timeout);
        await SendFlowsAsync(one, four);
        await SendFlowsAsync(four, one);
        const int total = Flows * FramesPerFlow;
        await AwaitAssertAsync(() => Assert.True(one.Received == total && four.Received == total, $"received {one.Received} and {four.Received} of {total}"), Timeout);
        Assert.Equal(0, one.OutOfOrder + four.OutOfOrder);
        // No per-queue figures for one queue: its status is as it always was.
        Assert.Empty(_daemon.Status.Snapshot().Single(v => v.Id.DomId == 63).Queues);
    }

    [Fact]
    public async Task A_fault_in_one_queue_restarts_that_queue_only_and_traffic_goes_on()
    {
        var a = await StartGuestAsync(65, 2);
        var b = await StartGuestAsync(66, 2);
        await HelloAsync(a);
        await HelloAsync(b);
        await AwaitAssertAsync(() => Assert.Equal(2, _daemon.Status.Snapshot().Count(v => v.Carrier)), Timeout);
        var queue0Rx = await _daemon.System.ActorSelection("/user/xenbus/vif66.0/queue-0/rx").Ask<ActorIdentity>(new Identify(null), Timeout);
        var statusB = _daemon.Status.Snapshot().Single(v => v.Id.DomId == 66);

        _daemon.System.ActorSelection("/user/xenbus/vif66.0/queue-1/tx").Tell(new RingProtocol.InjectFault("test"));
        await AwaitAssertAsync(() => Assert.Equal(1, Interlocked.Read(ref statusB.Restarts)), Timeout);

        await SendFlowsAsync(a, b);
        await SendFlowsAsync(b, a);
        const int total = Flows * FramesPerFlow;
        await AwaitAssertAsync(() => Assert.True(a.Received == total && b.Received == total, $"received {a.Received} and {b.Received} of {total}"), Timeout);
        Assert.Equal(0, a.OutOfOrder + b.OutOfOrder);
        // The other queue's actors were not restarted (a restart keeps the ref, so ask for its incarnation's traffic instead).
        var after = await _daemon.System.ActorSelection("/user/xenbus/vif66.0/queue-0/rx").Ask<ActorIdentity>(new Identify(null), Timeout);
        Assert.Equal(queue0Rx.Subject, after.Subject);
        Assert.Equal(1, Interlocked.Read(ref statusB.Restarts));
        Assert.False(statusB.Disabled);
    }

    [Theory]
    [InlineData("multi-queue-num-queues", "9", "multi-queue-num-queues")]
    [InlineData("multi-queue-num-queues", "0", "multi-queue-num-queues")]
    [InlineData("queue-1/tx-ring-ref", null, "queue-1/tx-ring-ref")]
    [InlineData("queue-1/event-channel", null, "queue-1/event-channel")]
    public async Task A_frontend_with_bad_queue_keys_is_refused_and_the_others_carry_on(string key, string? value, string named)
    {
        var a = await StartGuestAsync(67, 2);
        var b = await StartGuestAsync(68, 2);
        await HelloAsync(a);
        await HelloAsync(b);

        // A hostile guest writes what a 2-queue netfront writes, then breaks one key, then goes Connected.
        const ushort hostile = 69;
        await RateGuest.CreateVifAsync(_sim, hostile, "mq");
        var fe = SimToolstack.FrontendPath(hostile, 0);
        var be = $"/local/domain/0/backend/vif/{hostile}/0";
        await AwaitAssertAsync(async () => Assert.Equal("2", await _sim.XenStore.ReadAsync($"{be}/state")), Timeout);
        Assert.Equal("4", await _sim.XenStore.ReadAsync($"{be}/multi-queue-max-queues"));
        await _sim.XenStore.WriteAsync($"{fe}/multi-queue-num-queues", "2");
        for (var q = 0; q < 2; q++)
        {
            await _sim.XenStore.WriteAsync($"{fe}/queue-{q}/tx-ring-ref", $"{8 + 2 * q}");
            await _sim.XenStore.WriteAsync($"{fe}/queue-{q}/rx-ring-ref", $"{9 + 2 * q}");
            await _sim.XenStore.WriteAsync($"{fe}/queue-{q}/event-channel", $"{3 + q}");
        }
        await _sim.XenStore.WriteAsync($"{fe}/request-rx-copy", "1");
        if (value is null)
            await _sim.XenStore.RemoveAsync($"{fe}/{key}");
        else
            await _sim.XenStore.WriteAsync($"{fe}/{key}", value);
        await _sim.XenStore.WriteAsync($"{fe}/state", "4");
        await AwaitAssertAsync(async () => Assert.Equal("5", await _sim.XenStore.ReadAsync($"{be}/state")), Timeout);
        var error = await _sim.XenStore.ReadAsync($"/local/domain/0/error/backend/vif/{hostile}/0/error");
        Assert.NotNull(error);
        Assert.Contains(named, error, StringComparison.Ordinal);

        await SendFlowsAsync(a, b);
        const int total = Flows * FramesPerFlow;
        await AwaitAssertAsync(() => Assert.Equal(total, b.Received), Timeout);
        Assert.Equal(0, b.OutOfOrder);
    }
}
