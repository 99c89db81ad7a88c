using System.Buffers.Binary;
using Backend.Xen.Netback;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// RX steering without a control ring (<see cref="FlowHashQueueSelector"/> over <see cref="FlowHash"/>):
/// one flow one queue, different flows spread, non-IP and truncated frames to queue 0, no allocation.
/// </summary>
public sealed class RxQueueSteeringTests
{
    private static byte[] Ipv4(byte protocol, uint source, uint destination, ushort sourcePort, ushort destinationPort,
        int payload = 32, ushort fragment = 0, bool vlan = false)
    {
        var l3 = vlan ? 18 : 14;
        var frame = new byte[l3 + 20 + 8 + payload];
        if (vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), 7);
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 - 2), 0x0800);
        var ip = frame.AsSpan(l3);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], fragment);
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destination);
        BinaryPrimitives.WriteUInt16BigEndian(ip[20..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(ip[22..], destinationPort);
        // A payload byte that differs per frame: it must not move the frame to another queue.
        ip[^1] = (byte)payload;
        return frame;
    }

    private static byte[] Ipv6(byte nextHeader, byte lastSourceByte, ushort sourcePort)
    {
        var frame = new byte[14 + 40 + 8];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x86DD);
        var ip = frame.AsSpan(14);
        ip[0] = 0x60;
        ip[6] = nextHeader;
        ip[8] = 0xFD;
        ip[23] = lastSourceByte;
        ip[24] = 0xFD;
        ip[39] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(ip[40..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(ip[42..], 80);
        return frame;
    }

    private static int Select(byte[] frame, int queues) => FlowHashQueueSelector.Instance.Select(frame, queues);

    [Fact]
    public void Every_frame_of_one_flow_goes_to_the_same_queue_whatever_its_payload()
    {
        for (ushort port = 1000; port < 1064; port++)
        {
            var first = Select(Ipv4(6, 0x0A000001, 0x0A000002, port, 5001, payload: 10), 4);
            for (var payload = 11; payload < 40; payload++)
                Assert.Equal(first, Select(Ipv4(6, 0x0A000001, 0x0A000002, port, 5001, payload), 4));
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Flows_that_differ_in_a_port_or_an_address_spread_over_every_queue(int queues)
    {
        var byPort = new int[queues];
        var byAddress = new int[queues];
        for (var i = 0; i < 256; i++)
        {
            byPort[Select(Ipv4(17, 0x0A000001, 0x0A000002, (ushort)(40000 + i), 53), queues)]++;
            byAddress[Select(Ipv4(6, 0x0A000001 + (uint)i, 0x0A000002, 22, 22), queues)]++;
        }
        // 256 flows over at most 8 queues: each queue gets some, none most (a hash that ignored the field would put all on one).
        Assert.All(byPort, n => Assert.InRange(n, 256 / queues / 3, 256 / queues * 2));
        Assert.All(byAddress, n => Assert.InRange(n, 256 / queues / 3, 256 / queues * 2));
    }

    [Fact]
    public void IPv6_flows_spread_by_address_and_port()
    {
        var seen = new HashSet<int>();
        for (var i = 0; i < 64; i++)
        {
            seen.Add(Select(Ipv6(6, (byte)i, 80), 4));
            seen.Add(Select(Ipv6(17, 1, (ushort)(1000 + i)), 4));
        }
        Assert.Equal(4, seen.Count);
    }

    [Fact]
    public void The_fragments_of_one_datagram_hash_alike_ports_or_not()
    {
        // The first fragment (MF set) carries the ports, a later one (offset) has payload there: both by addresses only.
        var first = Ipv4(17, 0x0A000001, 0x0A000002, 1234, 53, fragment: 0x2000);
        var later = Ipv4(17, 0x0A000001, 0x0A000002, 0xABCD, 0xEF01, fragment: 0x00B9);
        Assert.True(FlowHash.TryCompute(first, out var a));
        Assert.True(FlowHash.TryCompute(later, out var b));
        Assert.Equal(a, b);
        // ... and differ from the unfragmented datagram's (ports included), or the test would prove nothing.
        Assert.True(FlowHash.TryCompute(Ipv4(17, 0x0A000001, 0x0A000002, 1234, 53), out var whole));
        Assert.NotEqual(a, whole);
    }

    [Fact]
    public void A_VLAN_tag_is_looked_through()
    {
        Assert.True(FlowHash.TryCompute(Ipv4(6, 1, 2, 3, 4, vlan: true), out var tagged));
        Assert.True(FlowHash.TryCompute(Ipv4(6, 1, 2, 3, 4), out var plain));
        Assert.Equal(plain, tagged);
    }

    [Fact]
    public void Frames_that_are_not_IP_or_are_cut_short_go_to_queue_0()
    {
        var arp = new byte[42];
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(12), 0x0806);
        Assert.False(FlowHash.TryCompute(arp, out _));
        Assert.Equal(0, Select(arp, 8));
        var tcp = Ipv4(6, 0x0A000001, 0x0A000002, 1, 2);
        for (var length = 0; length < 34; length++)
        {
            Assert.False(FlowHash.TryCompute(tcp.AsSpan(0, length), out _), $"{length} bytes");
            Assert.Equal(0, FlowHashQueueSelector.Instance.Select(tcp.AsSpan(0, length), 8));
        }
        // A header length under 20 or past the frame: not IP enough to hash.
        var bad = Ipv4(6, 1, 2, 3, 4);
        bad[14] = 0x44;
        Assert.False(FlowHash.TryCompute(bad, out _));
        bad[14] = 0x4F;
        Assert.False(FlowHash.TryCompute(bad.AsSpan(0, 14 + 40), out _));
    }

    [Fact]
    public void One_queue_is_always_queue_0()
    {
        Assert.Equal(0, Select(Ipv4(6, 1, 2, 3, 4), 1));
        Assert.Equal(0, Select(Ipv4(6, 1, 2, 3, 4), 0));
    }

    [Fact]
    public void Steering_allocates_nothing()
    {
        var frame = Ipv4(6, 0x0A000001, 0x0A000002, 1, 2);
        Select(frame, 4);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var sum = 0;
        for (var i = 0; i < 1000; i++)
            sum += Select(frame, 4);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.InRange(sum, 0, 3000);
    }
}
