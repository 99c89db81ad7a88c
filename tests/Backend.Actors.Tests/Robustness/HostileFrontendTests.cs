using Backend.Xen.Platform.Sim.Netfront;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Robustness;

/// <summary>
/// SIMXEN "Hostile frontends", case by case: a <see cref="HostileFrontend"/> (guest 3) writes raw requests
/// and indices while guests 1 and 2 exchange windowed traffic through the same bridge, which must lose
/// nothing. A fatal case disables the vif once (status, counter, one log line), consumes and answers
/// nothing after the fatal request, leaves xenbus Connected and drops frames to it; an error case answers
/// every consumed request once (ERROR for data slots, NULL for extras) and the vif goes on.
/// </summary>
public sealed class HostileFrontendTests : TestKit, IAsyncLifetime
{
    private const ushort Hostile = 3;
    private const int ProbePage = HostileFrontend.TxDataPages - 1;
    private const string DisabledWarning = "frontend misbehaved";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(60));
    private readonly TaskCompletionSource _stopTraffic = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SimBackendFixture _sim = null!;
    private TrafficPair _pair = null!;
    private HostileFrontend _front = null!;
    private IXenStore _frontClient = null!;
    private Task _traffic = Task.CompletedTask;

    public HostileFrontendTests() : base(@"akka.loglevel = INFO")
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        var toolstack = new SimToolstack(_sim.XenStore);
        _pair = await TrafficPair.StartAsync(_sim, toolstack, 1, 2);
        // mtu 9000: a frame to it may take several RX slots.
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = Hostile, Handle = 0, Mac = TrafficGuest.MacText(Hostile), Mtu = 9000 });
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), "xenbus");
        _frontClient = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _front = await HostileFrontend.ConnectAsync(_sim.Root, _frontClient, Hostile, 0, _cts.Token);
        await _pair.ConnectAsync(_cts.Token);
        _front.PostRxBuffers(16);
        _traffic = _pair.RunUntilAsync(300, _stopTraffic.Task, _cts.Token);

        // The hostile guest is a working one until it misbehaves: a frame it sends arrives, which also
        // teaches the bridge its MAC.
        SendProbe();
        await AwaitAssertAsync(() => Assert.Equal(1u, _front.TxResponseProducer), Timeout);
        Assert.Equal(NetifResponseStatus.Okay, _front.TxResponse(0).Status);
        await AwaitAssertAsync(() => Assert.Equal(1, _pair.A.Receiver.MarkersFrom(_front.Mac)), Timeout);
    }

    public async Task DisposeAsync()
    {
        _stopTraffic.TrySetResult();
        try { await _traffic; }
        catch (Exception) { /* reported by the test itself; the world goes regardless */ }
        // The actors hold ring mappings and event channels: stop them before the platform goes.
        await Sys.Terminate();
        await _pair.DisposeAsync();
        await _front.DisposeAsync();
        await _frontClient.DisposeAsync();
        await _sim.DisposeAsync();
        _cts.Dispose();
    }

    private VifStatus HostileStatus => _sim.Status.Snapshot().Single(v => v.Id.DomId == Hostile);

    /// <summary>A good one-slot frame to guest 1 from TX page <see cref="ProbePage"/>, pushed and notified.</summary>
    private uint SendProbe()
    {
        var index = _front.TxProducer;
        var frame = TrafficGuest.Marker(_pair.A.Mac, _front.Mac);
        var gref = _front.GrantTxData(ProbePage, frame);
        _front.PutTx(new NetifTxRequest { Gref = gref, Id = ProbePage, Size = (ushort)frame.Length });
        _front.PushTx();
        return index;
    }

    /// <summary>Sends <paramref name="frame"/> in one slot from TX page 0 and waits for its response.</summary>
    private async Task SendAsync(byte[] frame)
    {
        var index = _front.TxProducer;
        var gref = _front.GrantTxData(0, frame);
        _front.PutTx(new NetifTxRequest { Gref = gref, Id = 0, Size = (ushort)frame.Length });
        _front.PushTx();
        await AwaitAssertAsync(() => Assert.Equal(index + 1, _front.TxResponseProducer), Timeout);
        Assert.Equal(NetifResponseStatus.Okay, _front.TxResponse(index).Status);
    }

    private static NetifTxRequest Slot(ushort id, int size, bool more, ushort offset = 0, NetTxFlags flags = NetTxFlags.None) =>
        new() { Gref = 8, Id = id, Offset = offset, Size = (ushort)size, Flags = (ushort)(flags | (more ? NetTxFlags.MoreData : NetTxFlags.None)) };

    /// <summary>A packet of <paramref name="slots"/> data slots of 100 bytes each (ids 0 up), optionally with a GSO extra.</summary>
    private void PutPacket(int slots, bool complete = true, bool gsoExtra = false)
    {
        _front.PutTx(Slot(0, slots * 100, more: slots > 1 || !complete, flags: gsoExtra ? NetTxFlags.ExtraInfo : NetTxFlags.None));
        if (gsoExtra)
            _front.PutTxExtra(new NetifExtraInfo { Type = NetifExtraType.Gso, GsoSize = 1448, GsoType = NetifGsoType.TcpV4 });
        for (var i = 1; i < slots; i++)
            _front.PutTx(Slot((ushort)i, 100, more: i < slots - 1 || !complete));
    }

    /// <summary>Tells both ring actors to look at their rings and waits until they have.</summary>
    private async Task RingBarrierAsync()
    {
        foreach (var ring in new[] { "tx", "rx" })
        {
            var selection = Sys.ActorSelection($"/user/xenbus/vif{Hostile}.0/queue-0/{ring}");
            selection.Tell(RingProtocol.RingEvent.Instance);
            var identity = await selection.Ask<ActorIdentity>(new Identify(ring), Timeout);
            Assert.NotNull(identity.Subject);
        }
    }

    private async Task FinishTrafficAsync()
    {
        _stopTraffic.TrySetResult();
        try
        {
            await _traffic.WaitAsync(_cts.Token);
            await _pair.WaitDeliveredAsync(_cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("the pair's traffic did not finish: " + VifDiagnostics.Describe(_sim.Status, _sim.Buffers, _pair.A.Netfront, _pair.B.Netfront));
        }
        _pair.AssertZeroLoss();
    }

    /// <summary>
    /// Runs <paramref name="misbehave"/> (which returns the TX ring index of the fatal request, up to which
    /// everything must be answered) and checks every promise of a fatal error.
    /// </summary>
    private async Task AssertFatalAsync(string reason, Func<Task<uint>> misbehave)
    {
        var fatalAt = 0u;
        var rxAnswered = 0u;
        await EventFilter.Warning(contains: DisabledWarning).ExpectAsync(1, async () =>
        {
            fatalAt = await misbehave();
            await AwaitAssertAsync(() => Assert.True(HostileStatus.Disabled, "the vif should be disabled"), Timeout);
            await AwaitAssertAsync(() => Assert.Equal(fatalAt, _front.TxResponseProducer), Timeout);
            rxAnswered = _front.RxResponseProducer;
            // After the fatal request: a good packet, more RX buffers, notifications. None may be looked at.
            SendProbe();
            _front.PostRxBuffers(4);
            _front.Notify();
            await RingBarrierAsync();
        }, Timeout);

        var status = HostileStatus;
        Assert.True(status.Fault?.Contains(reason, StringComparison.Ordinal), $"the fault should name {reason}: \"{status.Fault}\"");
        Assert.Equal(1, Interlocked.Read(ref _sim.Status.DisabledTotal));
        Assert.Equal(1, Interlocked.Read(ref status.Faults));
        Assert.True(fatalAt == _front.TxResponseProducer, $"TX answered up to {_front.TxResponseProducer}, the fatal request is at {fatalAt}");
        Assert.True(fatalAt == Volatile.Read(ref status.TxReqCons), $"TX consumed up to {status.TxReqCons}, the fatal request is at {fatalAt}");
        Assert.Equal(rxAnswered, _front.RxResponseProducer);
        Assert.Equal("4", await _sim.XenStore.ReadAsync($"{_front.BackendPath}/state"));
        Assert.Equal(nameof(XenbusState.Connected), status.State);

        // Carrier off: a frame to it is dropped at its bridge port, and nothing reaches its RX ring.
        var port = _sim.Bridges.Get(SimVifSpec.DefaultBridge).Ports.Single(p => p.Name == $"vif{Hostile}.0");
        Assert.False(port.Connected);
        Assert.False(status.Carrier, "a disabled vif's carrier is off in its status too");
        var dropped = Interlocked.Read(ref port.FramesDroppedDown);
        await _pair.A.Netfront.SendAsync(TrafficGuest.Marker(_front.Mac, _pair.A.Mac), default, _cts.Token);
        await AwaitAssertAsync(() => Assert.True(Interlocked.Read(ref port.FramesDroppedDown) > dropped), Timeout);
        await RingBarrierAsync();
        Assert.Equal(rxAnswered, _front.RxResponseProducer);
        Assert.True(fatalAt == _front.TxResponseProducer, "nothing may be answered after the fatal request");

        await FinishTrafficAsync();
    }

    /// <summary>
    /// Runs <paramref name="misbehave"/> (requests written, not pushed), then a good probe, pushes once and
    /// checks one response per consumed request (<paramref name="expected"/>, in ring order), and that the
    /// probe after it is served.
    /// </summary>
    private async Task AssertErrorAnsweredAsync(Action misbehave, params (ushort Id, short Status)[] expected)
    {
        var start = _front.TxProducer;
        misbehave();
        Assert.Equal((uint)expected.Length, _front.TxProducer - start);
        var probe = SendProbe();
        await AwaitAssertAsync(() => Assert.Equal(probe + 1, _front.TxResponseProducer), Timeout);
        await RingBarrierAsync();
        Assert.Equal(probe + 1, _front.TxResponseProducer);
        for (var i = 0; i < expected.Length; i++)
        {
            var rsp = _front.TxResponse(start + (uint)i);
            Assert.True(expected[i].Id == rsp.Id && expected[i].Status == rsp.Status,
                $"response {i}: expected id {expected[i].Id} status {expected[i].Status}, got id {rsp.Id} status {rsp.Status}");
        }
        Assert.Equal(ProbePage, _front.TxResponse(probe).Id);
        Assert.Equal(NetifResponseStatus.Okay, _front.TxResponse(probe).Status);
        await AwaitAssertAsync(() => Assert.Equal(2, _pair.A.Receiver.MarkersFrom(_front.Mac)), Timeout);

        var status = HostileStatus;
        Assert.False(status.Disabled, $"the vif should go on, but was disabled: {status.Fault}");
        Assert.Equal(1, Interlocked.Read(ref status.TxErrors));
        Assert.Equal(0, Interlocked.Read(ref _sim.Status.DisabledTotal));
        await FinishTrafficAsync();
    }

    private static (ushort, short)[] Errors(int slots, bool gsoExtra = false)
    {
        var list = new List<(ushort, short)> { (0, NetifResponseStatus.Error) };
        if (gsoExtra)
            list.Add((0, NetifResponseStatus.Null));
        for (var i = 1; i < slots; i++)
            list.Add(((ushort)i, NetifResponseStatus.Error));
        return [.. list];
    }

    [Fact]
    public Task Impossible_tx_req_prod_disables_the_vif() =>
        AssertFatalAsync("ImpossibleRequestProducer", () =>
        {
            var at = _front.TxProducer;
            _front.PublishTxRequestProducer(_front.TxResponseProducer + NetifConstants.TxRingSize + 1);
            return Task.FromResult(at);
        });

    [Fact]
    public Task Tx_packet_of_22_slots_disables_the_vif_even_while_partial() =>
        AssertFatalAsync("TooManySlots", () =>
        {
            var at = _front.TxProducer;
            PutPacket(22, complete: false);
            _front.PushTx();
            return Task.FromResult(at);
        });

    [Fact]
    public Task Tx_slot_crossing_its_page_disables_the_vif() =>
        AssertFatalAsync("SlotCrossesPage", () =>
        {
            var at = _front.TxProducer;
            _front.PutTx(Slot(0, 300, more: true));
            _front.PutTx(Slot(1, 200, more: false, offset: 4000));
            _front.PushTx();
            return Task.FromResult(at);
        });

    [Fact]
    public Task Tx_extra_of_unknown_type_disables_the_vif() =>
        AssertFatalAsync("InvalidExtraType", () =>
        {
            var at = _front.TxProducer;
            _front.PutTx(Slot(0, 60, more: false, flags: NetTxFlags.ExtraInfo));
            _front.PutTxExtra(new NetifExtraInfo { Type = 7 });
            _front.PushTx();
            return Task.FromResult(at);
        });

    [Fact]
    public Task Tx_gso_extra_with_size_0_disables_the_vif() =>
        AssertFatalAsync("GsoSizeZero", () =>
        {
            var at = _front.TxProducer;
            _front.PutTx(Slot(0, 60, more: false, flags: NetTxFlags.ExtraInfo));
            _front.PutTxExtra(new NetifExtraInfo { Type = NetifExtraType.Gso, GsoSize = 0, GsoType = NetifGsoType.TcpV4 });
            _front.PushTx();
            return Task.FromResult(at);
        });

    [Fact]
    public Task Impossible_rx_req_prod_disables_the_vif() =>
        AssertFatalAsync("impossible RX req_prod", async () =>
        {
            _front.PublishRxRequestProducer(_front.RxResponseProducer + NetifConstants.RxRingSize + 44);
            // The backend looks at the RX ring when it has a frame for it.
            await _pair.A.Netfront.SendAsync(TrafficGuest.Marker(_front.Mac, _pair.A.Mac), default, _cts.Token);
            return _front.TxProducer;
        });

    [Fact]
    public Task Tx_packet_of_20_slots_is_answered_with_errors_and_the_vif_goes_on() =>
        AssertErrorAnsweredAsync(() => PutPacket(20, gsoExtra: true), Errors(20, gsoExtra: true));

    [Fact]
    public Task Tx_packet_of_21_slots_is_answered_with_errors_and_the_vif_goes_on() =>
        AssertErrorAnsweredAsync(() => PutPacket(21), Errors(21));

    [Fact]
    public Task Tx_slot_larger_than_what_remains_is_answered_with_errors_and_the_vif_goes_on() =>
        AssertErrorAnsweredAsync(() =>
        {
            _front.PutTx(Slot(0, 100, more: true));
            _front.PutTx(Slot(1, 200, more: false));
        }, Errors(2));

    [Fact]
    public Task Tx_first_slot_share_under_14_bytes_is_answered_with_errors_and_the_vif_goes_on() =>
        AssertErrorAnsweredAsync(() =>
        {
            _front.PutTx(Slot(0, 20, more: true));
            _front.PutTx(Slot(1, 10, more: false));
        }, Errors(2));

    [Fact]
    public Task Tx_request_with_an_ungranted_reference_is_answered_with_an_error_and_the_vif_goes_on() =>
        AssertErrorAnsweredAsync(() =>
        {
            _front.PutTx(new NetifTxRequest { Gref = 5000, Id = 0, Size = 60, Flags = (ushort)NetTxFlags.ExtraInfo });
            _front.PutTxExtra(new NetifExtraInfo { Type = NetifExtraType.Gso, GsoSize = 1448, GsoType = NetifGsoType.TcpV4 });
        }, Errors(1, gsoExtra: true));
    [Fact]
    public async Task Tx_gso_frame_of_64_KiB_with_gso_size_1_to_a_guest_without_gso_is_answered_with_errors_and_costs_the_receiver_nothing()
    {
        // A TCP/IPv4 frame of 65535 bytes to guest 1 (which did not negotiate GSO) in 16 page-sized
        // slots: cut at 1 byte it would be 65481 segments, every one of them built on guest 1's lane.
        const int slots = 16;
        var frame = Packets.TcpIpv4(_pair.A.Mac, _front.Mac, 65535);
        var receiver = _sim.Status.Snapshot().Single(v => v.Id.DomId == _pair.A.DomId);
        var deliveredBefore = Interlocked.Read(ref receiver.RxPackets);

        await AssertErrorAnsweredAsync(() =>
        {
            for (var i = 0; i < slots; i++)
            {
                var chunk = frame.AsSpan(i * 4096, Math.Min(4096, frame.Length - i * 4096));
                var gref = _front.GrantTxData(i, chunk);
                var size = i == 0 ? frame.Length : chunk.Length;
                var flags = (i == 0 ? NetTxFlags.ExtraInfo : NetTxFlags.None) | (i < slots - 1 ? NetTxFlags.MoreData : NetTxFlags.None);
                _front.PutTx(new NetifTxRequest { Gref = gref, Id = (ushort)i, Size = (ushort)size, Flags = (ushort)flags });
                if (i == 0)
                    _front.PutTxExtra(new NetifExtraInfo { Type = NetifExtraType.Gso, GsoSize = 1, GsoType = NetifGsoType.TcpV4 });
            }
        }, Errors(slots, gsoExtra: true));

        // Nothing of it reached guest 1's RX path: no segment dropped there, none delivered beyond the
        // pair's own traffic and the probes.
        Assert.Equal(0, Interlocked.Read(ref receiver.RxDropped));
        var delivered = Interlocked.Read(ref receiver.RxPackets) - deliveredBefore;
        Assert.True(delivered <= _pair.B.Sent + 1, $"guest 1 got {delivered} frames; guest 2 sent {_pair.B.Sent}, and one probe");
    }

    [Fact]
    public async Task Rx_buffers_too_few_for_a_frame_keep_it_queued_without_spinning_until_more_are_posted()
    {
        // All but one of the posted RX buffers used up by one-slot frames from guest 1.
        var posted = _front.RxRequestProducer;
        await RingBarrierAsync();
        var toUse = (int)(posted - 1 - _front.RxResponseProducer);
        for (var i = 0; i < toUse; i++)
            await _pair.A.Netfront.SendAsync(TrafficGuest.Marker(_front.Mac, _pair.A.Mac), default, _cts.Token);
        await AwaitAssertAsync(() => Assert.Equal(posted - 1, _front.RxResponseProducer), Timeout);

        // A 9000-byte frame takes 3 slots; there is 1.
        var big = new byte[9000];
        _front.Mac.CopyTo(big, 0);
        _pair.A.Mac.CopyTo(big, 6);
        big[12] = 0x88;
        big[13] = 0xB5;
        await _pair.A.Netfront.SendAsync(big, default, _cts.Token);
        await AwaitAssertAsync(() => Assert.Equal(1, Volatile.Read(ref HostileStatus.RxQueued)), Timeout);

        // The RX actor answers (it does not spin on the ring), has answered nothing, and asked to be told
        // of the frontend's next request.
        await RingBarrierAsync();
        Assert.Equal(posted - 1, _front.RxResponseProducer);
        Assert.Equal(posted + 1, _front.RxRequestEvent);

        _front.PostRxBuffers(2);
        await AwaitAssertAsync(() => Assert.Equal(posted + 2, _front.RxResponseProducer), Timeout);
        Assert.Equal(0, Volatile.Read(ref HostileStatus.RxQueued));
        Assert.False(HostileStatus.Disabled);
        await FinishTrafficAsync();
    }

    [Fact]
    public async Task Frames_with_another_guest_s_mac_as_source_are_dropped_and_that_guest_keeps_its_unicast_traffic()
    {
        var port = _sim.Bridges.Get(SimVifSpec.DefaultBridge).Ports.Single(p => p.Name == $"vif{Hostile}.0");
        // While guests 1 and 2 exchange traffic, the hostile guest claims guest 1's MAC, one drain after
        // another. Each frame is addressed to the hostile guest itself, so that it only teaches the bridge.
        const int Claims = 8;
        var claimed = TrafficGuest.Marker(_front.Mac, _pair.A.Mac);
        for (var i = 0; i < Claims; i++)
            await SendAsync(claimed);
        // Guest 2's frames still reach guest 1: more than a window of them (a lost frame stalls the window).
        var received = _pair.A.Receiver.Distinct;
        await AwaitAssertAsync(() => Assert.True(_pair.A.Receiver.Distinct > received + TrafficGuest.Window,
            $"guest 1 should keep receiving guest 2's unicast frames; {_pair.A.Receiver.Distinct - received} arrived since the claims"), Timeout);
        await FinishTrafficAsync();

        // Quiet now, so a claim would stand until guest 1 sends again: guest 2's unicast must still reach
        // guest 1, and nothing the hostile guest's RX ring.
        await RingBarrierAsync();
        var rxAnswered = _front.RxResponseProducer;
        var markers = _pair.A.Receiver.MarkersFrom(_pair.B.Mac);
        await SendAsync(claimed);
        await _pair.B.Netfront.SendAsync(TrafficGuest.Marker(_pair.A.Mac, _pair.B.Mac), default, _cts.Token);
        await AwaitAssertAsync(() => Assert.Equal(markers + 1, _pair.A.Receiver.MarkersFrom(_pair.B.Mac)), Timeout);
        await RingBarrierAsync();
        Assert.Equal(rxAnswered, _front.RxResponseProducer);

        Assert.Equal(Claims + 1, Interlocked.Read(ref port.FramesDroppedSpoofed));
        Assert.False(HostileStatus.Disabled);
        Assert.Equal(0, Interlocked.Read(ref HostileStatus.TxErrors));
    }
}
