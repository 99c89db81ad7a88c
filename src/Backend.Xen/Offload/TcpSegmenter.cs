using System.Buffers.Binary;
using Backend.Xen.Abi;

namespace Backend.Xen.Offload;

/// <summary>
/// Software GSO for TCP (Linux's tcp_gso_segment / inet_gso_segment / ipv6_gso_segment), for a frontend
/// that did not negotiate feature-gso-tcpv4/-tcpv6 (SIMXEN "Frames"): the payload is cut into GSO-size
/// chunks; each segment gets the frame's headers with the IPv4 total length, identification (+1 per
/// segment) and header checksum, or the IPv6 payload length, fixed; the TCP sequence number advanced;
/// FIN and PSH kept only on the last segment and CWR only on the first; and a full TCP checksum.
/// The caller provides each segment's buffer (pooled), so nothing is allocated.
/// </summary>
public static class TcpSegmenter
{
    private const byte TcpFin = 0x01;
    private const byte TcpPsh = 0x08;
    private const byte TcpCwr = 0x80;

    public static SegmentationStatus Prepare(ReadOnlySpan<byte> frame, byte gsoType, ushort gsoSize, out TcpSegmentation plan)
    {
        plan = default;
        byte ipVersion = gsoType switch
        {
            NetifGsoType.TcpV4 => 4,
            NetifGsoType.TcpV6 => 6,
            _ => 0,
        };
        if (ipVersion == 0 || gsoSize < GsoLimits.MinSize)
            return SegmentationStatus.InvalidGso;
        if (FrameLayout.TryParse(frame, out FrameLayout layout) != FrameParse.Ok
            || layout.IpVersion != ipVersion
            || layout.TransportProtocol != FrameLayout.ProtocolTcp
            || layout.IsFragment
            || ChecksumOffload.TransportChecksumOffset(layout, frame) < 0)
            return SegmentationStatus.Malformed;

        int tcpHeaderLength = (frame[layout.TransportOffset + 12] >> 4) * 4;
        int headerLength = layout.TransportOffset + tcpHeaderLength;
        int payloadLength = layout.PacketEnd - headerLength;
        int segments = GsoLimits.Segments(payloadLength, gsoSize);
        // The sender's ring refuses such frames (TxPacketParser); a frame from a TAP is held to it here.
        if (segments > GsoLimits.MaxSegments)
            return SegmentationStatus.TooManySegments;
        plan = new TcpSegmentation
        {
            Layout = layout,
            HeaderLength = headerLength,
            PayloadLength = payloadLength,
            Mss = gsoSize,
            SegmentCount = segments,
        };
        return SegmentationStatus.Ok;
    }

    /// <summary>
    /// Writes segment <paramref name="index"/> of <paramref name="frame"/> into <paramref name="destination"/>
    /// (at least <see cref="TcpSegmentation.SegmentLength"/> bytes) and returns its length.
    /// </summary>
    public static int WriteSegment(ReadOnlySpan<byte> frame, in TcpSegmentation plan, int index, Span<byte> destination)
    {
        int length = plan.SegmentLength(index);
        if (destination.Length < length)
            throw new ArgumentException($"segment {index} needs {length} bytes, the buffer has {destination.Length}", nameof(destination));
        int payloadStart = index * plan.Mss;
        int chunk = length - plan.HeaderLength;
        frame[..plan.HeaderLength].CopyTo(destination);
        frame.Slice(plan.HeaderLength + payloadStart, chunk).CopyTo(destination[plan.HeaderLength..]);
        Span<byte> segment = destination[..length];

        FrameLayout layout = plan.Layout;
        Span<byte> ip = segment.Slice(layout.NetworkOffset, layout.NetworkHeaderLength);
        int ipPacketLength = length - layout.NetworkOffset;
        if (layout.IpVersion == 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipPacketLength);
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(id + index));
            ChecksumOffload.FillIpv4Header(ip);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(ipPacketLength - FrameLayout.Ipv6HeaderLength));
        }

        Span<byte> tcp = segment[layout.TransportOffset..];
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], unchecked(sequence + (uint)payloadStart));
        byte flags = tcp[13];
        if (index != plan.SegmentCount - 1)
            flags &= unchecked((byte)~(TcpFin | TcpPsh));
        if (index != 0)
            flags &= unchecked((byte)~TcpCwr);
        tcp[13] = flags;

        ChecksumOffload.FillTransport(segment, layout with { PacketEnd = length }, ChecksumOffload.TcpChecksumOffset);
        return length;
    }
}
