using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Xen.Abi;

namespace Backend.Actors.Tests.DataPath;

/// <summary>
/// The MAC table: learning, moving, ageing (Linux's 300 s), the once-a-second refresh, its bound, and the
/// sweep that forgets aged sources nobody looks up.
/// </summary>
public sealed class LearningBridgeTests
{
    private const long Frequency = 1000; // one tick a millisecond
    private static readonly MacAddress Guest = Mac("00:16:3e:00:00:01");
    private static readonly MacAddress Broadcast = Mac("ff:ff:ff:ff:ff:ff");

    private sealed class ManualClock : TimeProvider
    {
        public override long TimestampFrequency => Frequency;

        public override long GetTimestamp() => 0;
    }

    private static MacAddress Mac(string text) =>
        MacAddress.TryParse(text, out var mac) ? mac : throw new ArgumentException(text);

    private static LearningBridge NewBridge() => new("xenbr0", new ManualClock());

    [Fact]
    public void Unknown_and_multicast_destinations_are_flooded()
    {
        var bridge = NewBridge();
        var port = bridge.AddPort("vif1.0", ActorRefs.Nobody);
        bridge.Learn(Broadcast, port, 0);
        Assert.Null(bridge.Lookup(Guest, 0));
        Assert.Null(bridge.Lookup(Broadcast, 0));
    }

    [Fact]
    public void A_learned_source_is_found_until_it_ages_out()
    {
        var bridge = NewBridge();
        var port = bridge.AddPort("vif1.0", ActorRefs.Nobody);
        bridge.Learn(Guest, port, 1_000);
        var aging = (long)LearningBridge.AgingTime.TotalSeconds * Frequency;
        Assert.Same(port, bridge.Lookup(Guest, 1_000 + aging));
        Assert.Null(bridge.Lookup(Guest, 1_000 + aging + 1));
        // Aged out means forgotten: not found again at an earlier time either.
        Assert.Null(bridge.Lookup(Guest, 1_000));
    }

    [Fact]
    public void A_source_seen_on_another_port_moves_at_once()
    {
        var bridge = NewBridge();
        var first = bridge.AddPort("vif1.0", ActorRefs.Nobody);
        var second = bridge.AddPort("vif2.0", ActorRefs.Nobody);
        bridge.Learn(Guest, first, 0);
        bridge.Learn(Guest, second, 10);
        Assert.Same(second, bridge.Lookup(Guest, 10));
    }

    [Fact]
    public void The_age_is_refreshed_once_a_second_not_per_frame()
    {
        var bridge = NewBridge();
        var port = bridge.AddPort("vif1.0", ActorRefs.Nobody);
        var aging = (long)LearningBridge.AgingTime.TotalSeconds * Frequency;
        bridge.Learn(Guest, port, 0);
        bridge.Learn(Guest, port, Frequency); // within the second: not written
        Assert.Null(bridge.Lookup(Guest, aging + 1));

        bridge.Learn(Guest, port, 0);
        bridge.Learn(Guest, port, Frequency + 1); // over a second later: refreshed
        Assert.Same(port, bridge.Lookup(Guest, aging + 1));
    }

    [Fact]
    public void A_removed_port_is_forgotten_with_its_macs()
    {
        var bridge = NewBridge();
        var port = bridge.AddPort("vif1.0", ActorRefs.Nobody);
        bridge.Learn(Guest, port, 0);
        bridge.RemovePort(port);
        Assert.Null(bridge.Lookup(Guest, 0));
        Assert.Equal(0, bridge.PortCount);
    }

    private static MacAddress Nth(int i) => new(0x02_00_00_00_00_00UL | (uint)i);

    [Fact]
    public void A_full_table_learns_no_new_source_until_the_sweep_frees_room()
    {
        var bridge = new LearningBridge("xenbr0", new ManualClock(), new BridgeOptions { MaxMacs = 2 });
        var uplink = bridge.AddPort("uplink:tap0", ActorRefs.Nobody);
        var vif = bridge.AddPort("vif1.0", ActorRefs.Nobody);
        var aging = (long)LearningBridge.AgingTime.TotalSeconds * Frequency;
        bridge.Learn(Nth(1), uplink, 0);
        bridge.Learn(Nth(2), uplink, aging / 2);
        bridge.Learn(Nth(3), uplink, aging / 2);
        Assert.Equal(2, bridge.MacCount);
        Assert.Null(bridge.Lookup(Nth(3), aging / 2)); // not learned: frames to it are flooded

        // Full refuses new sources only: a known one still moves.
        bridge.Learn(Nth(2), vif, aging / 2);
        Assert.Same(vif, bridge.Lookup(Nth(2), aging / 2));

        // The sweep forgets the first (aged), which makes room for the third.
        bridge.SweepIfDue(aging + 1);
        Assert.Equal(1, bridge.MacCount);
        bridge.Learn(Nth(3), uplink, aging + 1);
        Assert.Same(uplink, bridge.Lookup(Nth(3), aging + 1));
        Assert.Same(vif, bridge.Lookup(Nth(2), aging + 1));
    }

    [Fact]
    public void The_sweep_forgets_aged_sources_that_nobody_looks_up()
    {
        var bridge = NewBridge();
        var port = bridge.AddPort("uplink:tap0", ActorRefs.Nobody);
        var aging = (long)LearningBridge.AgingTime.TotalSeconds * Frequency;
        for (var i = 0; i < 1000; i++)
            bridge.Learn(Nth(i), port, 0);
        bridge.Learn(Guest, port, aging);
        Assert.Equal(1001, bridge.MacCount);

        // Not due within a sweep interval of the bridge's start: nothing is looked at.
        bridge.SweepIfDue(1);
        Assert.Equal(1001, bridge.MacCount);

        bridge.SweepIfDue(aging + 1);
        Assert.Equal(1, bridge.MacCount);
        Assert.Same(port, bridge.Lookup(Guest, aging + 1));
    }
}
