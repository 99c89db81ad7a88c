using Akka.TestKit.Xunit2;
using Backend.Actors.Bridge;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Netback;

namespace Backend.Actors.Tests.DataPath;

/// <summary>
/// One drain through a port's forwarder: where each frame goes (one port, every other port, or nowhere),
/// one batch per destination, and the port counters; a MAC learned mid-drain counts for the frames after
/// it (the answers of a table read per frame, which any caching of lookups must keep). A vif's port sends
/// only from its configured MAC unless the bridge allows any; a flood copies only for the ports that take
/// the frame; a multicast frame only for the ports whose multicast filter accepts it.
/// </summary>
public sealed class BridgeForwarderTests : TestKit
{
    private static readonly MacAddress MacA = new(0x00163E000001);
    private static readonly MacAddress MacB = new(0x00163E000002);
    private static readonly MacAddress MacC = new(0x00163E000003);
    private static readonly MacAddress MacD = new(0x00163E000004);

    private readonly PacketBufferPool _buffers = new();
    private readonly LearningBridge _bridge = new("xenbr0", TimeProvider.System);

    /// <summary>A connected port: a vif's when <paramref name="mac"/> (its configured MAC) is given, else an uplink's.</summary>
    private (BridgePort Port, Akka.TestKit.TestProbe Probe) AddPort(string name, MacAddress? mac = null, LearningBridge? bridge = null)
    {
        var probe = CreateTestProbe();
        var port = (bridge ?? _bridge).AddPort(name, probe.Ref, mac);
        port.Connected = true;
        return (port, probe);
    }

    /// <summary>Ports for guests A and B, and the forwarder of A's port.</summary>
    private ((BridgePort Port, Akka.TestKit.TestProbe Probe) A, (BridgePort Port, Akka.TestKit.TestProbe Probe) B, BridgeForwarder FromA) TwoPorts()
    {
        var a = AddPort("vif1.0");
        var b = AddPort("vif2.0");
        return (a, b, new BridgeForwarder(_bridge, a.Port, _buffers));
    }

    private static void ExpectNothing(params Akka.TestKit.TestProbe[] probes)
    {
        foreach (var probe in probes)
            probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    private PacketBuffer Frame(MacAddress destination, MacAddress source, int length = 64)
    {
        var frame = _buffers.Rent(length);
        frame.Length = length;
        frame.Span[..length].Clear();
        destination.Write(frame.Span);
        source.Write(frame.Span[6..]);
        frame.Span[length - 1] = (byte)length;
        return frame;
    }

    private static FrameBatch Batch(params PacketBuffer[] frames)
    {
        var batch = FrameBatch.Rent();
        foreach (var f in frames)
            batch.Add(f);
        return batch;
    }

    private static List<(MacAddress Destination, MacAddress Source)> Take(Akka.TestKit.TestProbe probe)
    {
        var batch = probe.ExpectMsg<FrameBatch>(TimeSpan.FromSeconds(3));
        var frames = new List<(MacAddress, MacAddress)>();
        for (var i = 0; i < batch.Count; i++)
        {
            frames.Add((MacAddress.Read(batch.Frames[i].Frame), MacAddress.Read(batch.Frames[i].Frame[6..])));
            batch.Frames[i].Return();
        }
        batch.Release();
        return frames;
    }

    [Fact]
    public void Unknown_unicast_floods_then_a_learned_destination_goes_to_its_port_alone()
    {
        var a = AddPort("vif1.0");
        var b = AddPort("vif2.0");
        var c = AddPort("vif3.0");
        var fromB = new BridgeForwarder(_bridge, b.Port, _buffers);
        fromB.Forward(Batch(Frame(MacA, MacB))); // nobody knows A yet: flooded to A's and C's ports
        Assert.Single(Take(a.Probe));
        Assert.Single(Take(c.Probe));

        var fromA = new BridgeForwarder(_bridge, a.Port, _buffers);
        fromA.Forward(Batch(Frame(MacB, MacA), Frame(MacB, MacA), Frame(MacC, MacA)));
        // B was learned on its port: both frames in one batch to it; C unknown: flooded to B and C.
        Assert.Equal([(MacB, MacA), (MacB, MacA), (MacC, MacA)], Take(b.Probe));
        Assert.Equal([(MacC, MacA)], Take(c.Probe));
        ExpectNothing(b.Probe);

        Assert.Equal(2, Interlocked.Read(ref b.Port.FramesForwarded));
        Assert.Equal(1, Interlocked.Read(ref b.Port.FramesFlooded));
        Assert.Equal(2, Interlocked.Read(ref c.Port.FramesFlooded));
        Assert.Equal(1, Interlocked.Read(ref a.Port.FramesFlooded));
        Assert.Equal(0, Interlocked.Read(ref a.Port.FramesForwarded));
    }

    [Fact]
    public void A_multicast_frame_is_flooded_only_to_the_ports_whose_filter_accepts_it_and_broadcast_to_all()
    {
        var group = new MacAddress(0x01005E0000FB);
        var other = new MacAddress(0x01005E000001);
        var sender = AddPort("vif1.0");
        var subscribed = AddPort("vif2.0");
        var unsubscribed = AddPort("vif3.0");
        var uncontrolled = AddPort("vif4.0");
        var uplink = AddPort("uplink");
        subscribed.Port.Multicast = new MulticastFilter();
        subscribed.Port.Multicast.Connect(control: true, resumed: false);
        subscribed.Port.Multicast.Add(group);
        unsubscribed.Port.Multicast = new MulticastFilter();
        unsubscribed.Port.Multicast.Connect(control: true, resumed: false);
        uncontrolled.Port.Multicast = new MulticastFilter();
        uncontrolled.Port.Multicast.Connect(control: false, resumed: false);
        var fromSender = new BridgeForwarder(_bridge, sender.Port, _buffers);

        fromSender.Forward(Batch(Frame(group, MacA), Frame(other, MacA), Frame(MacAddress.Broadcast, MacA)));

        Assert.Equal([(group, MacA), (MacAddress.Broadcast, MacA)], Take(subscribed.Probe));
        Assert.Equal([(MacAddress.Broadcast, MacA)], Take(unsubscribed.Probe));
        Assert.Equal([(group, MacA), (other, MacA), (MacAddress.Broadcast, MacA)], Take(uncontrolled.Probe));
        Assert.Equal([(group, MacA), (other, MacA), (MacAddress.Broadcast, MacA)], Take(uplink.Probe)); // no filter: every frame
        ExpectNothing(sender.Probe, subscribed.Probe, unsubscribed.Probe, uncontrolled.Probe, uplink.Probe);
        Assert.Equal(1, Interlocked.Read(ref subscribed.Port.Multicast.Filtered));
        Assert.Equal(2, Interlocked.Read(ref unsubscribed.Port.Multicast.Filtered));
        Assert.Equal(0, Interlocked.Read(ref uncontrolled.Port.Multicast.Filtered));
        Assert.Equal(0, _buffers.Outstanding);
    }

    [Fact]
    public void A_source_learned_mid_drain_changes_where_a_later_frame_of_the_drain_goes()
    {
        var (a, b, fromA) = TwoPorts();
        // C is unknown: the first frame floods (to B). The second comes from C itself, on A's port (a
        // bridged guest behind it), so C is learned there, and that frame, to C, goes nowhere: the first
        // frame's answer (flood) does not hold for it.
        fromA.Forward(Batch(Frame(MacC, MacA), Frame(MacC, MacC), Frame(MacB, MacA)));
        Assert.Equal([(MacC, MacA), (MacB, MacA)], Take(b.Probe));
        ExpectNothing(a.Probe);
        Assert.Same(a.Port, _bridge.Lookup(MacC, _bridge.Timestamp()));
    }

    [Fact]
    public void Every_frame_the_bridge_drops_is_counted_the_flood_to_nobody_a_port_down_a_hairpin_and_a_runt()
    {
        // Before, these four went back to the pool without a count: the orderly stop's flush (the pool
        // empty) could not tell them from frames delivered, and neither could /status.
        var (a, b, fromA) = TwoPorts();
        b.Port.Connected = false;
        fromA.Forward(Batch(Frame(MacD, MacA), Frame(MacD, MacA))); // unknown unicast, the only other port down
        ExpectNothing(a.Probe, b.Probe);
        Assert.Equal(2, Interlocked.Read(ref b.Port.FramesDroppedDown));
        Assert.Equal(2, Interlocked.Read(ref a.Port.FramesDroppedNoPort));

        b.Port.Connected = true;
        _bridge.Learn(MacC, a.Port, _bridge.Timestamp()); // C is behind A's own port
        var runt = _buffers.Rent(13);
        runt.Length = 13;
        fromA.Forward(Batch(Frame(MacC, MacA), runt));
        ExpectNothing(a.Probe, b.Probe);
        Assert.Equal(1, Interlocked.Read(ref a.Port.FramesDroppedHairpin));
        Assert.Equal(1, Interlocked.Read(ref a.Port.FramesDroppedRunt));
        Assert.Equal(0, _buffers.Outstanding);

        // The counters count drops only: a flood that reaches a port is not one.
        fromA.Forward(Batch(Frame(MacD, MacA)));
        Assert.Single(Take(b.Probe));
        Assert.Equal(2, Interlocked.Read(ref a.Port.FramesDroppedNoPort));
        Assert.Equal(2, Interlocked.Read(ref b.Port.FramesDroppedDown));
    }

    [Fact]
    public void Frames_for_a_port_down_or_over_its_mtu_are_dropped_and_counted()
    {
        var (a, b, fromA) = TwoPorts();
        new BridgeForwarder(_bridge, b.Port, _buffers).Forward(Batch(Frame(MacA, MacB)));
        Take(a.Probe);
        b.Port.Mtu = 1500;
        fromA.Forward(Batch(Frame(MacB, MacA, 1514), Frame(MacB, MacA, 1515)));
        Assert.Equal([(MacB, MacA)], Take(b.Probe));
        Assert.Equal(1, Interlocked.Read(ref b.Port.FramesDroppedMtu));

        b.Port.Connected = false;
        fromA.Forward(Batch(Frame(MacB, MacA)));
        ExpectNothing(b.Probe);
        Assert.Equal(1, Interlocked.Read(ref b.Port.FramesDroppedDown));
        Assert.Equal(1, Interlocked.Read(ref b.Port.FramesForwarded));
    }

    [Fact]
    public void A_frame_is_never_sent_back_out_of_the_port_it_came_in_on()
    {
        var (a, b, fromA) = TwoPorts();
        fromA.Forward(Batch(Frame(MacA, MacA), Frame(MacA, MacA)));
        ExpectNothing(a.Probe, b.Probe);
    }

    [Fact]
    public void A_vif_sending_from_another_mac_is_dropped_counted_and_does_not_take_the_owner_s_traffic()
    {
        var a = AddPort("vif1.0", MacA);
        var b = AddPort("vif2.0", MacB);
        var c = AddPort("vif3.0", MacC);
        new BridgeForwarder(_bridge, a.Port, _buffers).Forward(Batch(Frame(MacAddress.Broadcast, MacA)));
        new BridgeForwarder(_bridge, b.Port, _buffers).Forward(Batch(Frame(MacAddress.Broadcast, MacB)));
        Take(a.Probe);
        Take(b.Probe);
        Take(c.Probe);
        Take(c.Probe);

        // C claims A's MAC (to B, and broadcast), then sends one frame of its own.
        new BridgeForwarder(_bridge, c.Port, _buffers).Forward(Batch(Frame(MacB, MacA), Frame(MacAddress.Broadcast, MacA), Frame(MacB, MacC)));
        Assert.Equal([(MacB, MacC)], Take(b.Probe));
        ExpectNothing(a.Probe, b.Probe);
        Assert.Equal(2, Interlocked.Read(ref c.Port.FramesDroppedSpoofed));
        Assert.Equal(0, Interlocked.Read(ref a.Port.FramesDroppedSpoofed));

        // A's MAC stayed with A: B's unicast to it reaches A, not C.
        Assert.Same(a.Port, _bridge.Lookup(MacA, _bridge.Timestamp()));
        new BridgeForwarder(_bridge, b.Port, _buffers).Forward(Batch(Frame(MacA, MacB)));
        Assert.Equal([(MacA, MacB)], Take(a.Probe));
        ExpectNothing(c.Probe);
    }

    [Fact]
    public void With_source_mac_any_a_vif_may_send_for_machines_behind_it()
    {
        var bridge = new LearningBridge("xenbr1", TimeProvider.System, new BridgeOptions { SourceMac = BridgeSourceMac.Any });
        var a = AddPort("vif1.0", MacA, bridge);
        var c = AddPort("vif3.0", MacC, bridge);
        new BridgeForwarder(bridge, c.Port, _buffers).Forward(Batch(Frame(MacA, MacD)));
        Assert.Equal([(MacA, MacD)], Take(a.Probe));
        Assert.Same(c.Port, bridge.Lookup(MacD, bridge.Timestamp()));
        Assert.Equal(0, Interlocked.Read(ref c.Port.FramesDroppedSpoofed));
    }

    [Fact]
    public void An_uplink_learns_any_source_while_vifs_are_locked()
    {
        var a = AddPort("vif1.0", MacA);
        var uplink = AddPort("uplink:tap0");
        new BridgeForwarder(_bridge, uplink.Port, _buffers).Forward(Batch(Frame(MacA, MacC), Frame(MacA, MacD)));
        Assert.Equal([(MacA, MacC), (MacA, MacD)], Take(a.Probe));
        Assert.Same(uplink.Port, _bridge.Lookup(MacD, _bridge.Timestamp()));
        Assert.Equal(0, Interlocked.Read(ref uplink.Port.FramesDroppedSpoofed));
    }

    [Fact]
    public void A_drain_sweeps_aged_sources_that_nobody_looks_up()
    {
        var clock = new SteppedClock();
        var bridge = new LearningBridge("xenbr2", clock);
        var uplink = AddPort("uplink:tap0", bridge: bridge);
        var b = AddPort("vif2.0", MacB, bridge);
        new BridgeForwarder(bridge, uplink.Port, _buffers).Forward(Batch(Frame(MacB, MacC), Frame(MacB, MacD)));
        Assert.Equal(2, Take(b.Probe).Count);
        Assert.Equal(2, bridge.MacCount);

        clock.Advance(LearningBridge.AgingTime + LearningBridge.SweepInterval);
        new BridgeForwarder(bridge, b.Port, _buffers).Forward(Batch(Frame(MacAddress.Broadcast, MacB)));
        Take(uplink.Probe);
        Assert.Equal(1, bridge.MacCount);
    }

    [Fact]
    public void A_flood_copies_a_frame_only_for_the_ports_that_take_it()
    {
        var a = AddPort("vif1.0");
        var small = AddPort("vif2.0");
        var alsoSmall = AddPort("vif3.0");
        var jumbo = AddPort("vif4.0");
        jumbo.Port.Mtu = 9000;
        var down = AddPort("vif5.0");
        down.Port.Connected = false;
        var frame = Frame(MacAddress.Broadcast, MacA, 4000);
        var created = _buffers.Created;

        new BridgeForwarder(_bridge, a.Port, _buffers).Forward(Batch(frame));
        Assert.Equal(created, _buffers.Created);
        Assert.Equal([(MacAddress.Broadcast, MacA)], Take(jumbo.Probe));
        ExpectNothing(a.Probe, small.Probe, alsoSmall.Probe, down.Probe);
        Assert.Equal(1, Interlocked.Read(ref small.Port.FramesDroppedMtu));
        Assert.Equal(1, Interlocked.Read(ref alsoSmall.Port.FramesDroppedMtu));
        Assert.Equal(1, Interlocked.Read(ref jumbo.Port.FramesFlooded));
    }

    [Fact]
    public void A_drain_asks_the_table_once_per_run_of_frames_with_the_same_source_and_destination()
    {
        var a = AddPort("vif1.0", MacA);
        var b = AddPort("vif2.0", MacB);
        var c = AddPort("vif3.0", MacC);
        new BridgeForwarder(_bridge, b.Port, _buffers).Forward(Batch(Frame(MacAddress.Broadcast, MacB)));
        new BridgeForwarder(_bridge, c.Port, _buffers).Forward(Batch(Frame(MacAddress.Broadcast, MacC)));
        var fromA = new BridgeForwarder(_bridge, a.Port, _buffers);
        fromA.Forward(Batch(Frame(MacAddress.Broadcast, MacA)));
        Take(a.Probe);
        Take(a.Probe);
        Take(b.Probe);
        Take(b.Probe);
        Take(c.Probe);
        Take(c.Probe);

        // 100 frames to B: the source learned once, B looked up once.
        var before = fromA.TableLookups;
        fromA.Forward(Batch([.. Enumerable.Range(0, 100).Select(_ => Frame(MacB, MacA))]));
        Assert.Equal(2, fromA.TableLookups - before);
        Assert.Equal(100, Take(b.Probe).Count);

        // Alternating destinations: one look-up per frame, and still one batch per destination.
        before = fromA.TableLookups;
        fromA.Forward(Batch([.. Enumerable.Range(0, 100).Select(i => Frame(i % 2 == 0 ? MacB : MacC, MacA))]));
        Assert.Equal(1 + 100, fromA.TableLookups - before);
        Assert.Equal(50, Take(b.Probe).Count);
        Assert.Equal(50, Take(c.Probe).Count);
        ExpectNothing(a.Probe, b.Probe, c.Probe);
        Assert.Equal(150, Interlocked.Read(ref b.Port.FramesForwarded));
    }

    [Fact]
    public void A_mac_that_moves_mid_drain_takes_the_next_frame_to_it_along_though_its_destination_is_the_same()
    {
        var a = AddPort("vif1.0", MacA);
        var b = AddPort("vif2.0", MacB);
        var uplink = AddPort("uplink:tap0");
        new BridgeForwarder(_bridge, b.Port, _buffers).Forward(Batch(Frame(MacAddress.Broadcast, MacB)));
        Take(a.Probe);
        Take(uplink.Probe);

        // B's MAC shows up behind the uplink between two frames to it: the second is not B's port's.
        new BridgeForwarder(_bridge, uplink.Port, _buffers).Forward(Batch(Frame(MacB, MacC), Frame(MacB, MacB), Frame(MacB, MacD)));
        Assert.Equal([(MacB, MacC)], Take(b.Probe));
        ExpectNothing(a.Probe, b.Probe, uplink.Probe);
        Assert.Same(uplink.Port, _bridge.Lookup(MacB, _bridge.Timestamp()));

        // And back: B sends again from its own port, and A's frames to it follow.
        new BridgeForwarder(_bridge, b.Port, _buffers).Forward(Batch(Frame(MacA, MacB)));
        Take(a.Probe);
        new BridgeForwarder(_bridge, a.Port, _buffers).Forward(Batch(Frame(MacB, MacA)));
        Assert.Equal([(MacB, MacA)], Take(b.Probe));
    }

    [Fact]
    public void A_port_that_goes_is_forgotten_and_a_new_port_in_its_place_gets_only_its_own_frames()
    {
        var (a, b, fromA) = TwoPorts();
        var c = AddPort("vif3.0");
        new BridgeForwarder(_bridge, b.Port, _buffers).Forward(Batch(Frame(MacA, MacB)));
        Take(a.Probe);
        Take(c.Probe);
        fromA.Forward(Batch(Frame(MacB, MacA)));
        Assert.Single(Take(b.Probe));

        b.Port.Connected = false;
        _bridge.RemovePort(b.Port);
        var d = AddPort("vif4.0");
        Assert.Equal(b.Port.Index, d.Port.Index);

        // B is unknown now: flooded to C and D; D, in B's index, gets its frames in a batch of its own.
        fromA.Forward(Batch(Frame(MacB, MacA), Frame(MacD, MacA)));
        Assert.Equal([(MacB, MacA), (MacD, MacA)], Take(c.Probe));
        Assert.Equal([(MacB, MacA), (MacD, MacA)], Take(d.Probe));
        ExpectNothing(b.Probe, c.Probe, d.Probe);
        Assert.Equal(1, Interlocked.Read(ref b.Port.FramesForwarded));
        Assert.Equal(0, Interlocked.Read(ref b.Port.FramesFlooded));
        Assert.Equal(2, Interlocked.Read(ref d.Port.FramesFlooded));
    }

    [Fact]
    public void A_steady_drain_allocates_nothing()
    {
        var provider = ((Akka.Actor.ExtendedActorSystem)Sys).Provider;
        var toB = new Support.ReleasingReceiver(provider, "b");
        var toC = new Support.ReleasingReceiver(provider, "c");
        var a = _bridge.AddPort("vif1.0", TestActor, MacA);
        var b = _bridge.AddPort("vif2.0", toB, MacB);
        var c = _bridge.AddPort("vif3.0", toC, MacC);
        foreach (var port in new[] { a, b, c })
            port.Connected = true;
        _bridge.Learn(MacB, b, _bridge.Timestamp());
        _bridge.Learn(MacC, c, _bridge.Timestamp());
        var fromA = new BridgeForwarder(_bridge, a, _buffers);
        var frames = new PacketBuffer[64];

        void Drain()
        {
            for (var i = 0; i < frames.Length; i++)
                frames[i] = Frame(i < 40 ? MacB : MacC, MacA);
            fromA.Forward(frames);
        }

        for (var i = 0; i < 100; i++)
            Drain();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
            Drain();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.True(allocated == 0, $"1000 drains of 64 frames allocated {allocated} bytes");
        Assert.Equal(1100 * 40, toB.Frames);
        Assert.Equal(1100 * 24, toC.Frames);
    }

    /// <summary>A clock that moves only when told.</summary>
    private sealed class SteppedClock : TimeProvider
    {
        private long _now;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Volatile.Read(ref _now);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _now, by.Ticks);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
            _buffers.Dispose();
    }
}
