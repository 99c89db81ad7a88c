using System.Buffers.Binary;
using System.Text;
using Backend.Xen.Offload;
using static Backend.TestSupport.Packets;

namespace Backend.Xen.Tests.Offload;

public class ChecksumOffloadTests
{
    private const int IpOffset = 14;
    private const int TransportOffset = 14 + 20;
    private static readonly byte[] FreeBsdPayload = Encoding.ASCII.GetBytes("FreeBSD\n");

    // FreeBSD's xnb_fill_tcp: 'uname | nc <host> 2222' as captured by tcpdump.
    private static byte[] FreeBsdTcpFrame() =>
        Ethernet(0x0800, Ipv4(6, Tcp(FreeBsdPayload), id: 8, fragment: 0x4000));

    [Fact]
    public void add_mbuf_cksum_arp()
    {
        byte[] arp =
        [
            0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
            0x00, 0x15, 0x17, 0xe9, 0x30, 0x68, 0xc0, 0xa8, 0x0a, 0x04,
            0, 0, 0, 0, 0, 0, 0xc0, 0xa8, 0x0a, 0x06,
        ];
        byte[] frame = Ethernet(0x0806, arp);
        byte[] original = (byte[])frame.Clone();

        ChecksumOutcome outcome = ChecksumOffload.Fill(frame, FrameChecksum.Blank);

        Assert.Equal(ChecksumOutcome.NotApplicable, outcome);
        Assert.Equal(original, frame);
    }

    [Fact]
    public void add_mbuf_cksum_icmp()
    {
        // A ping(1) echo request: only the IP header checksum is ours; ICMP must be left as it is
        // (FreeBSD's test compared against the wrong buffer; this compares the ICMP bytes themselves).
        var icmp = new byte[64];
        icmp[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), 0xaed7);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), 31492);
        BinaryPrimitives.WriteUInt32LittleEndian(icmp.AsSpan(8), 0x4f02cfac);
        BinaryPrimitives.WriteUInt32LittleEndian(icmp.AsSpan(12), 0x0007c46a);
        for (int i = 8; i < 37; i++)
            icmp[16 + i - 8] = (byte)i;
        byte[] frame = Ethernet(0x0800, Ipv4(1, icmp, id: 28, fragment: 0));

        ChecksumOutcome outcome = ChecksumOffload.Fill(frame, FrameChecksum.Blank);

        Assert.Equal(ChecksumOutcome.IpHeaderOnly, outcome);
        Assert.Equal(0xe533, ReadUInt16(frame, IpOffset + 10));
        Assert.Equal(icmp, frame[TransportOffset..]);
    }

    [Fact]
    public void add_mbuf_cksum_tcp()
    {
        byte[] frame = FreeBsdTcpFrame();

        ChecksumOutcome outcome = ChecksumOffload.Fill(frame, FrameChecksum.Blank);

        Assert.Equal(ChecksumOutcome.Filled, outcome);
        Assert.Equal(0xa55a, ReadUInt16(frame, IpOffset + 10));
        Assert.Equal(0x2f64, ReadUInt16(frame, TransportOffset + 16));
    }

    [Fact]
    public void add_mbuf_cksum_tcp_swcksum()
    {
        // Deliberately wrong checksums on a frame that is not checksum-blank: they must stay wrong.
        byte[] frame = Ethernet(0x0800, Ipv4(6, Tcp(FreeBsdPayload, checksum: 0xbeef), id: 8, fragment: 0x4000, checksum: 0xdead));
        byte[] original = (byte[])frame.Clone();

        Assert.Equal(ChecksumOutcome.NotApplicable, ChecksumOffload.Fill(frame, FrameChecksum.None));
        Assert.Equal(ChecksumOutcome.NotApplicable, ChecksumOffload.Fill(frame, FrameChecksum.Validated));
        Assert.Equal(original, frame);
    }

    [Fact]
    public void add_mbuf_cksum_udp()
    {
        // 'uname | nc -u <host> 2222', with garbage where both checksums go.
        byte[] frame = Ethernet(0x0800, Ipv4(17, Udp(FreeBsdPayload, checksum: 0xbaad), id: 4, fragment: 0, checksum: 0xbaad));

        ChecksumOutcome outcome = ChecksumOffload.Fill(frame, FrameChecksum.Blank);

        Assert.Equal(ChecksumOutcome.Filled, outcome);
        Assert.Equal(0xe56b, ReadUInt16(frame, IpOffset + 10));
        Assert.Equal(0xdde2, ReadUInt16(frame, TransportOffset + 6));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1400)]
    [InlineData(1459)]
    public void Ipv4_tcp_checksum_matches_the_reference(int payloadLength)
    {
        byte[] tcp = Tcp(Payload(payloadLength, payloadLength));
        byte[] frame = Ethernet(0x0800, Ipv4(6, tcp));

        Assert.Equal(ChecksumOutcome.Filled, ChecksumOffload.FillBlank(frame));

        byte[] segment = frame[TransportOffset..];
        Assert.Equal(0, ReferenceChecksum.Verify(ReferenceChecksum.PseudoHeader(Ipv4Source, Ipv4Destination, 6, segment.Length), segment));
        Assert.Equal(0, ReferenceChecksum.Verify(frame[IpOffset..TransportOffset]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(1440)]
    public void Ipv6_tcp_checksum_matches_the_reference(int payloadLength)
    {
        byte[] tcp = Tcp(Payload(payloadLength, payloadLength));
        byte[] frame = Ethernet(0x86DD, Ipv6(6, tcp));

        Assert.Equal(ChecksumOutcome.Filled, ChecksumOffload.FillBlank(frame));

        byte[] segment = frame[(14 + 40)..];
        byte[] expectedTcp = (byte[])tcp.Clone();
        expectedTcp[16] = expectedTcp[17] = 0;
        ushort expected = ReferenceChecksum.Compute(ReferenceChecksum.PseudoHeader(Ipv6Source, Ipv6Destination, 6, tcp.Length), expectedTcp);
        Assert.Equal(expected, ReadUInt16(frame, 14 + 40 + 16));
        Assert.Equal(0, ReferenceChecksum.Verify(ReferenceChecksum.PseudoHeader(Ipv6Source, Ipv6Destination, 6, segment.Length), segment));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(1451)]
    public void Ipv6_udp_checksum_matches_the_reference(int payloadLength)
    {
        byte[] udp = Udp(Payload(payloadLength, payloadLength));
        byte[] frame = Ethernet(0x86DD, Ipv6(17, udp));

        Assert.Equal(ChecksumOutcome.Filled, ChecksumOffload.FillBlank(frame));

        byte[] expectedUdp = (byte[])udp.Clone();
        expectedUdp[6] = expectedUdp[7] = 0;
        ushort expected = ReferenceChecksum.Compute(ReferenceChecksum.PseudoHeader(Ipv6Source, Ipv6Destination, 17, udp.Length), expectedUdp);
        Assert.Equal(expected == 0 ? 0xFFFF : expected, ReadUInt16(frame, 14 + 40 + 6));
    }

    [Fact]
    public void Udp_checksum_that_computes_to_zero_is_sent_as_all_ones()
    {
        // With the payload's first word w = 0 the checksum is c; setting w = c makes the sum 0xFFFF and
        // the computed checksum 0, which UDP must send as 0xFFFF.
        byte[] frame = Ethernet(0x0800, Ipv4(17, Udp(new byte[8])));
        ChecksumOffload.FillBlank(frame);
        ushort c = ReadUInt16(frame, TransportOffset + 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(TransportOffset + 8), c);

        ChecksumOffload.FillBlank(frame);

        Assert.Equal(0xFFFF, ReadUInt16(frame, TransportOffset + 6));
    }

    [Fact]
    public void Vlan_tagged_frame_is_filled_behind_the_tag()
    {
        byte[] untagged = FreeBsdTcpFrame();
        var tagged = new byte[untagged.Length + 4];
        untagged.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), 42);
        untagged.AsSpan(12).CopyTo(tagged.AsSpan(16));

        Assert.Equal(ChecksumOutcome.Filled, ChecksumOffload.FillBlank(tagged));

        Assert.Equal(0xa55a, ReadUInt16(tagged, IpOffset + 4 + 10));
        Assert.Equal(0x2f64, ReadUInt16(tagged, TransportOffset + 4 + 16));
    }

    [Fact]
    public void Ethernet_padding_after_the_ip_packet_is_not_checksummed()
    {
        byte[] frame = FreeBsdTcpFrame();
        byte[] padded = new byte[frame.Length + 6];
        frame.CopyTo(padded, 0);
        padded.AsSpan(frame.Length).Fill(0xEE);

        ChecksumOffload.FillBlank(padded);

        Assert.Equal(0x2f64, ReadUInt16(padded, TransportOffset + 16));
        Assert.All(padded[frame.Length..], b => Assert.Equal(0xEE, b));
    }

    public static TheoryData<string> WholeFrames => new() { "ipv4-tcp", "ipv4-udp", "ipv6-tcp", "ipv6-udp" };

    [Theory]
    [MemberData(nameof(WholeFrames))]
    public void Truncated_frames_are_left_untouched(string kind)
    {
        byte[] whole = kind switch
        {
            "ipv4-tcp" => FreeBsdTcpFrame(),
            "ipv4-udp" => Ethernet(0x0800, Ipv4(17, Udp(FreeBsdPayload))),
            "ipv6-tcp" => Ethernet(0x86DD, Ipv6(6, Tcp(FreeBsdPayload))),
            _ => Ethernet(0x86DD, Ipv6(17, Udp(FreeBsdPayload))),
        };
        // Every prefix of the frame: the IP length then claims more than there is, or the headers are cut.
        for (int length = 0; length < whole.Length; length++)
        {
            byte[] truncated = whole[..length];
            byte[] original = (byte[])truncated.Clone();

            ChecksumOutcome outcome = ChecksumOffload.FillBlank(truncated);

            Assert.True(outcome == ChecksumOutcome.Malformed, $"{kind} cut to {length} bytes gave {outcome}");
            Assert.Equal(original, truncated);
        }
    }

    [Fact]
    public void Headers_that_lie_about_their_lengths_are_left_untouched()
    {
        var cases = new List<byte[]>();
        byte[] f;
        f = FreeBsdTcpFrame(); f[IpOffset] = 0x4F; cases.Add(f);                       // IHL 60 > total length
        f = FreeBsdTcpFrame(); f[IpOffset] = 0x44; cases.Add(f);                       // IHL 16 < 20
        f = FreeBsdTcpFrame(); BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(IpOffset + 2), 19); cases.Add(f); // total < IHL
        f = FreeBsdTcpFrame(); f[TransportOffset + 12] = 0xF0; cases.Add(f);           // TCP offset 60 > segment
        f = FreeBsdTcpFrame(); f[TransportOffset + 12] = 0x40; cases.Add(f);           // TCP offset 16 < 20
        f = Ethernet(0x0800, Ipv4(17, Udp(FreeBsdPayload))); BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(TransportOffset + 4), 200); cases.Add(f); // UDP length lies
        f = Ethernet(0x86DD, Ipv6(6, Tcp(FreeBsdPayload))); BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 4), 0); cases.Add(f); // jumbogram
        f = Ethernet(0x86DD, Ipv6(0, Tcp(FreeBsdPayload))); f[14 + 40 + 1] = 200; cases.Add(f); // hop-by-hop longer than the packet
        f = Ethernet(0x0800, Ipv6(6, Tcp(FreeBsdPayload))); cases.Add(f);              // IPv6 under the IPv4 ethertype

        foreach (byte[] frame in cases)
        {
            byte[] original = (byte[])frame.Clone();
            Assert.Equal(ChecksumOutcome.Malformed, ChecksumOffload.FillBlank(frame));
            Assert.Equal(original, frame);
        }
    }

    [Fact]
    public void Ipv4_fragment_gets_only_its_header_checksum()
    {
        byte[] frame = Ethernet(0x0800, Ipv4(6, Tcp(FreeBsdPayload), fragment: 0x2000));
        byte[] transport = frame[TransportOffset..];

        Assert.Equal(ChecksumOutcome.IpHeaderOnly, ChecksumOffload.FillBlank(frame));

        Assert.Equal(transport, frame[TransportOffset..]);
        Assert.Equal(0, ReferenceChecksum.Verify(frame[IpOffset..TransportOffset]));
    }

    [Fact]
    public void Ipv6_hop_by_hop_header_is_walked_to_reach_tcp()
    {
        byte[] tcp = Tcp(FreeBsdPayload);
        byte[] hopByHop = new byte[8 + tcp.Length];
        hopByHop[0] = 6;   // next header TCP
        hopByHop[1] = 0;   // 8 bytes
        hopByHop[2] = 1;   // PadN
        hopByHop[3] = 4;
        tcp.CopyTo(hopByHop, 8);
        byte[] frame = Ethernet(0x86DD, Ipv6(0, hopByHop));

        Assert.Equal(ChecksumOutcome.Filled, ChecksumOffload.FillBlank(frame));

        byte[] segment = frame[(14 + 48)..];
        Assert.Equal(0, ReferenceChecksum.Verify(ReferenceChecksum.PseudoHeader(Ipv6Source, Ipv6Destination, 6, segment.Length), segment));
    }
}
