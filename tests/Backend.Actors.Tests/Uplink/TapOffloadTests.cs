using Backend.Actors.HostNetwork;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Offload;
using Backend.Xen.Platform.Linux;

namespace Backend.Actors.Tests.Uplink;

/// <summary>Offload state across a TAP: netif flags and GSO extra against the virtio-net header, both ways.</summary>
public sealed class TapOffloadTests : IDisposable
{
    private readonly PacketBufferPool _pool = new();

    public void Dispose() => _pool.Dispose();

    private PacketBuffer Buffer(byte[] frame)
    {
        var buffer = _pool.Rent(frame.Length);
        frame.CopyTo(buffer.Span);
        buffer.Length = frame.Length;
        return buffer;
    }

    /// <summary>
    /// An IPv4 or IPv6 frame with a TCP segment (20-byte header, garbage checksum) or, for any other
    /// protocol, an 8-byte UDP header, then <paramref name="payload"/> bytes.
    /// </summary>
    private static byte[] Ipv4(byte protocol, int payload) => Packets.Ethernet(Packets.EtherTypeIpv4, Packets.Ipv4(protocol, Transport(protocol, payload)));

    private static byte[] Ipv6(byte protocol, int payload) => Packets.Ethernet(Packets.EtherTypeIpv6, Packets.Ipv6(protocol, Transport(protocol, payload)));

    private static byte[] Transport(byte protocol, int payload) =>
        protocol == Packets.ProtocolTcp ? Packets.Tcp(Packets.Payload(payload), timestamps: false) : Packets.Udp(Packets.Payload(payload));

    /// <summary>What the kernel does with NEEDS_CSUM: sum from csum_start (the partial sum included) and store it.</summary>
    private static void CompleteAsTheKernelDoes(Span<byte> frame, in VirtioNetHeader header)
    {
        var checksum = InternetChecksum.Finish(InternetChecksum.Add(frame[header.CsumStart..], 0));
        InternetChecksum.Store(frame.Slice(header.CsumStart + header.CsumOffset, 2), checksum);
    }

    /// <summary>A transport checksum is right when the sum over the pseudo-header and the segment folds to zero.</summary>
    private static bool TransportChecksumIsValid(ReadOnlySpan<byte> frame)
    {
        Assert.Equal(FrameParse.Ok, FrameLayout.TryParse(frame, out var layout));
        var ip = frame.Slice(layout.NetworkOffset, layout.NetworkHeaderLength);
        var v4 = layout.IpVersion == 4;
        var sum = InternetChecksum.PseudoHeader(v4 ? ip.Slice(12, 4) : ip.Slice(8, 16), v4 ? ip.Slice(16, 4) : ip.Slice(24, 16), layout.TransportProtocol, (uint)layout.TransportLength);
        return InternetChecksum.Finish(InternetChecksum.Add(frame.Slice(layout.TransportOffset, layout.TransportLength), sum)) == 0;
    }

    [Fact]
    public void A_guest_TCPv4_GSO_frame_goes_to_the_TAP_with_its_segmentation_and_a_partial_checksum_the_kernel_completes()
    {
        var buffer = Buffer(Ipv4(6, 4000));
        buffer.GsoType = NetifGsoType.TcpV4;
        buffer.GsoSize = 1448;
        buffer.ChecksumBlank = true;

        Assert.True(TapOffload.TryToTap(buffer, out var header));

        Assert.Equal(VirtioNetHeader.FlagNeedsCsum, header.Flags);
        Assert.Equal(VirtioNetHeader.GsoTcpV4, header.GsoType);
        Assert.Equal(1448, header.GsoSize);
        Assert.Equal(14 + 20 + 20, header.HdrLen);
        Assert.Equal(14 + 20, header.CsumStart);
        Assert.Equal(16, header.CsumOffset);
        CompleteAsTheKernelDoes(buffer.Frame, header);
        Assert.True(TransportChecksumIsValid(buffer.Frame), "the partial checksum left in the frame does not complete to a valid TCP checksum");
        buffer.Return();
    }

    [Fact]
    public void A_guest_GSO_frame_without_csum_blank_still_gets_the_partial_checksum_set_up()
    {
        var buffer = Buffer(Ipv6(6, 3000));
        buffer.GsoType = NetifGsoType.TcpV6;
        buffer.GsoSize = 1428;

        Assert.True(TapOffload.TryToTap(buffer, out var header));

        Assert.Equal(VirtioNetHeader.GsoTcpV6, header.GsoType);
        Assert.Equal(VirtioNetHeader.FlagNeedsCsum, header.Flags);
        CompleteAsTheKernelDoes(buffer.Frame, header);
        Assert.True(TransportChecksumIsValid(buffer.Frame));
        buffer.Return();
    }

    [Theory]
    [InlineData(NetifGsoType.TcpV6, true, 6)]   // a TCPv6 GSO extra on an IPv4 frame
    [InlineData(NetifGsoType.TcpV4, true, 17)]  // GSO on UDP: netif's GSO is TCP's
    [InlineData(NetifGsoType.None, true, 1)]    // csum_blank on ICMP: no checksum place netif can name
    [InlineData((byte)7, true, 6)]              // a GSO type netif does not have
    public void A_guest_frame_whose_headers_cannot_carry_its_offload_is_refused(byte gsoType, bool blank, byte protocol)
    {
        var buffer = Buffer(Ipv4(protocol, 100));
        buffer.GsoType = gsoType;
        buffer.GsoSize = 1000;
        buffer.ChecksumBlank = blank;
        Assert.False(TapOffload.TryToTap(buffer, out _));
        buffer.Return();
    }

    [Fact]
    public void A_plain_guest_frame_carries_only_data_validated()
    {
        var buffer = Buffer(Ipv4(17, 100));
        buffer.DataValidated = true;
        Assert.True(TapOffload.TryToTap(buffer, out var header));
        Assert.Equal(new VirtioNetHeader { Flags = VirtioNetHeader.FlagDataValid }, header);
        buffer.Return();
    }

    [Fact]
    public void A_host_frame_with_a_partial_TCP_checksum_and_TSO_becomes_a_csum_blank_GSO_frame()
    {
        var buffer = Buffer(Ipv4(6, 5000));
        var header = new VirtioNetHeader
        {
            Flags = VirtioNetHeader.FlagNeedsCsum,
            GsoType = VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn,
            GsoSize = 1448,
            HdrLen = 54,
            CsumStart = 34,
            CsumOffset = 16,
        };
        Assert.True(TapOffload.FromTap(header, buffer));
        Assert.Equal(NetifGsoType.TcpV4, buffer.GsoType);
        Assert.Equal(1448, buffer.GsoSize);
        Assert.True(buffer.ChecksumBlank);
        buffer.Return();
    }

    [Fact]
    public void A_host_partial_checksum_where_netif_cannot_name_it_is_completed_before_it_goes_on()
    {
        // A UDP frame whose partial checksum the header places at UDP's field but with csum_start past the
        // IP header by 2 (as for an encapsulation): netif's csum_blank cannot say that, so it is filled here.
        var frame = Ipv4(17, 200);
        var buffer = Buffer(frame);
        const int start = 14 + 20 + 8;
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = start, CsumOffset = 2 };
        var partial = frame.AsSpan(start + 2, 2).ToArray(); // the sum of what the checksum covers outside the region
        Assert.True(TapOffload.FromTap(header, buffer));
        Assert.False(buffer.ChecksumBlank);
        Assert.True(buffer.DataValidated);
        // As a receiver checks: the region with its checksum, plus the part the partial sum stood for, folds to zero.
        Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(buffer.Frame[start..], InternetChecksum.Add(partial, 0))));
        buffer.Return();
    }

    [Theory]
    [InlineData(VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoNone, 1000, 0)]        // checksum place past the frame
    [InlineData(VirtioNetHeader.FlagNeedsCsum, (byte)3, 34, 6)]                          // VIRTIO_NET_HDR_GSO_UDP
    [InlineData(VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoTcpV4, 14 + 20 + 8, 2)] // GSO with the checksum elsewhere
    [InlineData(0, VirtioNetHeader.GsoTcpV4, 0, 0)]                                       // GSO without a partial checksum
    public void A_host_header_that_does_not_fit_the_frame_is_refused(byte flags, byte gsoType, int csumStart, int csumOffset)
    {
        var buffer = Buffer(Ipv4(17, 200));
        var header = new VirtioNetHeader { Flags = flags, GsoType = gsoType, GsoSize = 1000, CsumStart = (ushort)csumStart, CsumOffset = (ushort)csumOffset };
        Assert.False(TapOffload.FromTap(header, buffer));
        buffer.Return();
    }
}
