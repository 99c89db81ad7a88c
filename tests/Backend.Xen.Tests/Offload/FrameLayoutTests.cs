using Backend.Xen.Offload;
using static Backend.TestSupport.Packets;

namespace Backend.Xen.Tests.Offload;

/// <summary>Which checksum offload (IPv4 or IPv6) covers a frame, VLAN tag or not.</summary>
public class FrameLayoutTests
{
    private static byte[] Tagged(ushort tpid, byte[] untagged)
    {
        // Insert the 4-byte tag (TPID, VLAN 5) after the two MAC addresses.
        var frame = new byte[untagged.Length + 4];
        untagged.AsSpan(0, 12).CopyTo(frame);
        frame[12] = (byte)(tpid >> 8);
        frame[13] = (byte)tpid;
        frame[15] = 5;
        untagged.AsSpan(12).CopyTo(frame.AsSpan(16));
        return frame;
    }

    [Fact]
    public void Plain_and_tagged_ipv6_frames_are_ipv6()
    {
        var ipv6 = Ethernet(FrameLayout.EtherTypeIpv6, Ipv6(FrameLayout.ProtocolUdp, Udp(Payload(20))));
        Assert.True(FrameLayout.IsIpv6(ipv6));
        Assert.True(FrameLayout.IsIpv6(Tagged(FrameLayout.EtherTypeVlan, ipv6)));
        Assert.True(FrameLayout.IsIpv6(Tagged(FrameLayout.EtherTypeQinQ, ipv6)));
        // And the layout agrees: the tagged frame parses as IPv6 behind its tag.
        Assert.Equal(FrameParse.Ok, FrameLayout.TryParse(Tagged(FrameLayout.EtherTypeVlan, ipv6), out var layout));
        Assert.Equal(6, layout.IpVersion);
        Assert.Equal(18, layout.NetworkOffset);
    }

    [Fact]
    public void Ipv4_tagged_or_not_and_short_frames_are_not_ipv6()
    {
        var ipv4 = Ethernet(FrameLayout.EtherTypeIpv4, Ipv4(FrameLayout.ProtocolUdp, Udp(Payload(20))));
        Assert.False(FrameLayout.IsIpv6(ipv4));
        Assert.False(FrameLayout.IsIpv6(Tagged(FrameLayout.EtherTypeVlan, ipv4)));
        Assert.False(FrameLayout.IsIpv6(new byte[13]));
        // A tag with nothing behind it: the inner EtherType is not there to read.
        var cut = Tagged(FrameLayout.EtherTypeVlan, Ethernet(FrameLayout.EtherTypeIpv6, []))[..17];
        Assert.False(FrameLayout.IsIpv6(cut));
    }
}
