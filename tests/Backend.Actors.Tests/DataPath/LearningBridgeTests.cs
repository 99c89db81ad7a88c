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

    [Fact]
    public void The_version_moves_with_every_change_of_an_answer_and_not_with_a_refreshed_age()
    {
        var bridge = NewBridge();
        var first = bridge.AddPort("vif1.0", ActorRefs.Nobody);
        var second = bridge.AddPort("vif2.0", ActorRefs.Nobody);
        var aging = (long)LearningBridge.AgingTime.TotalSeconds * Frequency;
        var version = bridge.Version;
        bool Changed()
        {
            var (before, after) = (version, version = bridge.Version);
            return before != after;
        }

        bridge.Learn(Guest, first, 0);
        Assert.True(Changed(), "a new MAC changes the version");
        bridge.Learn(Guest, first, 2 * Frequency);
        Assert.False(Changed(), "a refreshed age changes no answer");
        bridge.Learn(Broadcast, first, 2 * Frequency);
        Assert.False(Changed(), "multicast is never learned");
        bridge.Learn(Guest, second, 3 * Frequency);
        Assert.True(Changed(), "a move changes the version");
        Assert.Same(second, bridge.Lookup(Guest, 3 * Frequency));
        Assert.False(Changed(), "a look-up that finds its MAC changes nothing");

        Assert.Null(bridge.Lookup(Guest, 3 * Frequency + aging + 1));
        Assert.True(Changed(), "an entry aged out at a look-up changes the version");

        bridge.Learn(Guest, first, 0);
        Changed();
        bridge.RemovePort(first);
        Assert.True(Changed(), "a port that goes changes the version");
        Assert.Equal(0, bridge.MacCount);
    }

    [Fact]
    public void A_port_that_left_the_bridge_learns_nothing_more()
    {
        // Its TX ring may still be draining while its connection removes the port.
        var bridge = NewBridge();
        var gone = bridge.AddPort("vif1.0", ActorRefs.Nobody);
        var stays = bridge.AddPort("vif2.0", ActorRefs.Nobody);
        bridge.Learn(Nth(1), stays, 0);
        bridge.RemovePort(gone);
        bridge.Learn(Guest, gone, 0);
        bridge.Learn(Nth(1), gone, 0);
        Assert.Null(bridge.Lookup(Guest, 0));
        Assert.Same(stays, bridge.Lookup(Nth(1), 0));
        Assert.Equal(1, bridge.MacCount);
        bridge.RemovePort(gone); // twice is once
        Assert.Equal(1, bridge.PortCount);
    }

    [Fact]
    public void Port_indexes_stay_dense_and_a_new_port_takes_the_lowest_free_one()
    {
        var bridge = NewBridge();
        var ports = Enumerable.Range(0, 4).Select(i => bridge.AddPort($"vif{i}.0", ActorRefs.Nobody)).ToArray();
        Assert.Equal([0, 1, 2, 3], ports.Select(p => p.Index));
        bridge.RemovePort(ports[2]);
        bridge.RemovePort(ports[1]);
        Assert.Equal(1, bridge.AddPort("vif5.0", ActorRefs.Nobody).Index);
        Assert.Equal(2, bridge.AddPort("vif6.0", ActorRefs.Nobody).Index);
        Assert.Equal(4, bridge.AddPort("vif7.0", ActorRefs.Nobody).Index);
        Assert.Equal(5, bridge.PortCount);
    }

    [Fact]
    public async Task Ports_learning_and_looking_up_on_many_threads_agree_with_one_table()
    {
        // Each thread's port learns its own 200 MACs and looks up every other thread's; at the end every
        // MAC is found on its port and counted once.
        var bridge = new LearningBridge("xenbr0", new ManualClock(), new BridgeOptions { MaxMacs = 10_000 });
        var ports = Enumerable.Range(0, 4).Select(i => bridge.AddPort($"vif{i}.0", ActorRefs.Nobody)).ToArray();
        var wrong = await Task.WhenAll(ports.Select((port, t) => Task.Run(() =>
        {
            var misplaced = 0;
            for (var round = 0; round < 20; round++)
            {
                for (var i = 0; i < 200; i++)
                {
                    bridge.Learn(Nth(t * 1000 + i), port, 0);
                    var other = bridge.Lookup(Nth((t + 1) % 4 * 1000 + i), 0);
                    if (other is not null && other != ports[(t + 1) % 4])
                        misplaced++;
                }
            }
            return misplaced;
        })));
        Assert.Equal([0, 0, 0, 0], wrong);
        Assert.Equal(800, bridge.MacCount);
        for (var t = 0; t < 4; t++)
        {
            for (var i = 0; i < 200; i++)
                Assert.Same(ports[t], bridge.Lookup(Nth(t * 1000 + i), 0));
        }
    }
}
