using System.Buffers.Binary;

namespace Backend.Xen.Offload;

/// <summary>
/// Fills in the checksums of a checksum-blank frame for a receiver that did not negotiate checksum
/// offload (FreeBSD's xnb_add_mbuf_cksum, and Linux's skb_checksum_help for a vif). Every checksum is
/// computed from scratch with its field zeroed first, so whatever the sender left there (a pseudo-header
/// partial sum, or garbage) does not matter. Nothing outside the frame is read, and a frame whose headers
/// do not add up is left exactly as it was.
/// </summary>
public static class ChecksumOffload
{
    private const int Ipv4ChecksumOffset = 10;
    internal const int TcpChecksumOffset = 16;
    private const int UdpChecksumOffset = 6;

    /// <summary>
    /// Fills the checksums of a <see cref="FrameChecksum.Blank"/> frame; any other frame is left alone
    /// (its checksums are either right already or the receiver's to check).
    /// </summary>
    public static ChecksumOutcome Fill(Span<byte> frame, FrameChecksum checksum) =>
        checksum == FrameChecksum.Blank ? FillBlank(frame) : ChecksumOutcome.NotApplicable;

    /// <summary>Fills the IPv4 header checksum and the TCP/UDP checksum of a checksum-blank frame.</summary>
    public static ChecksumOutcome FillBlank(Span<byte> frame)
    {
        FrameParse parse = FrameLayout.TryParse(frame, out FrameLayout layout);
        if (parse == FrameParse.NotIp)
            return ChecksumOutcome.NotApplicable;
        if (parse == FrameParse.Malformed)
            return ChecksumOutcome.Malformed;

        int checksumOffset = TransportChecksumOffset(layout, frame);
        if (checksumOffset == Malformed)
            return ChecksumOutcome.Malformed;

        // All checks are done before the first write: a frame is either fully filled or untouched.
        if (layout.IpVersion == 4)
            FillIpv4Header(frame.Slice(layout.NetworkOffset, layout.NetworkHeaderLength));
        if (checksumOffset == None)
            return layout.IpVersion == 4 ? ChecksumOutcome.IpHeaderOnly : ChecksumOutcome.NotApplicable;

        FillTransport(frame, layout, checksumOffset);
        return ChecksumOutcome.Filled;
    }

    /// <summary>Stores the header checksum of an IPv4 header (the whole IHL * 4 bytes).</summary>
    public static void FillIpv4Header(Span<byte> header)
    {
        header.Slice(Ipv4ChecksumOffset, 2).Clear();
        InternetChecksum.Store(header.Slice(Ipv4ChecksumOffset, 2), InternetChecksum.Finish(InternetChecksum.Add(header, 0)));
    }

    /// <summary>
    /// Stores the TCP or UDP checksum of the transport segment that starts at <paramref name="layout"/>'s
    /// transport offset; the caller has checked the transport header fits (<see cref="TransportChecksumOffset"/>).
    /// </summary>
    internal static void FillTransport(Span<byte> frame, in FrameLayout layout, int checksumOffset)
    {
        Span<byte> ip = frame.Slice(layout.NetworkOffset, layout.NetworkHeaderLength);
        Span<byte> segment = frame.Slice(layout.TransportOffset, layout.TransportLength);
        ReadOnlySpan<byte> source = layout.IpVersion == 4 ? ip.Slice(12, 4) : ip.Slice(8, 16);
        ReadOnlySpan<byte> destination = layout.IpVersion == 4 ? ip.Slice(16, 4) : ip.Slice(24, 16);

        Span<byte> field = segment.Slice(checksumOffset, 2);
        field.Clear();
        ulong sum = InternetChecksum.PseudoHeader(source, destination, layout.TransportProtocol, (uint)segment.Length);
        ushort checksum = InternetChecksum.Finish(InternetChecksum.Add(segment, sum));
        // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none").
        if (checksum == 0 && layout.TransportProtocol == FrameLayout.ProtocolUdp)
            checksum = 0xFFFF;
        InternetChecksum.Store(field, checksum);
    }

    internal const int None = -1;
    internal const int Malformed = -2;

    /// <summary>
    /// Offset of the checksum field inside the transport segment, <see cref="None"/> when there is no
    /// TCP/UDP checksum to fill, <see cref="Malformed"/> when the transport header does not fit.
    /// </summary>
    internal static int TransportChecksumOffset(in FrameLayout layout, ReadOnlySpan<byte> frame)
    {
        if (layout.IsFragment)
            return None;
        int length = layout.TransportLength;
        switch (layout.TransportProtocol)
        {
            case FrameLayout.ProtocolTcp:
                if (length < FrameLayout.TcpMinHeaderLength)
                    return Malformed;
                int dataOffset = (frame[layout.TransportOffset + 12] >> 4) * 4;
                if (dataOffset < FrameLayout.TcpMinHeaderLength || dataOffset > length)
                    return Malformed;
                return TcpChecksumOffset;
            case FrameLayout.ProtocolUdp:
                if (length < FrameLayout.UdpHeaderLength)
                    return Malformed;
                int udpLength = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(layout.TransportOffset + 4, 2));
                // The UDP length must agree with IP's, or we would checksum bytes the receiver ignores.
                if (udpLength != length)
                    return Malformed;
                return UdpChecksumOffset;
            default:
                return None;
        }
    }
}
