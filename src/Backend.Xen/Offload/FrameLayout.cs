using System.Buffers.Binary;

namespace Backend.Xen.Offload;

/// <summary>
/// Where the IP and transport headers of an Ethernet frame are, found by one bounds-checked walk. Frames
/// come from guests: every offset here has been checked to lie inside the frame, and the IP lengths
/// against the frame's length, so users index the frame with these values without re-checking.
/// </summary>
public readonly struct FrameLayout
{
    public const ushort EtherTypeIpv4 = 0x0800;
    public const ushort EtherTypeIpv6 = 0x86DD;
    public const ushort EtherTypeVlan = 0x8100;
    public const ushort EtherTypeQinQ = 0x88A8;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;
    public const int Ipv4MinHeaderLength = 20;
    public const int Ipv6HeaderLength = 40;
    public const int TcpMinHeaderLength = 20;
    public const int UdpHeaderLength = 8;

    private const byte Ipv6HopByHop = 0;
    private const byte Ipv6DestinationOptions = 60;
    // Bounds the extension-header walk whatever the guest chains together.
    private const int MaxIpv6ExtensionHeaders = 8;

    /// <summary>Offset of the IP header (after Ethernet and at most one VLAN tag).</summary>
    public int NetworkOffset { get; init; }
    /// <summary>4 or 6.</summary>
    public byte IpVersion { get; init; }
    /// <summary>IPv4: IHL * 4; IPv6: 40 plus the hop-by-hop / destination-options headers walked.</summary>
    public int NetworkHeaderLength { get; init; }
    /// <summary>Offset just past the IP packet (IPv4 total length, IPv6 payload length); Ethernet padding follows.</summary>
    public int PacketEnd { get; init; }
    /// <summary>The upper-layer protocol (IPv6: after the extension headers walked).</summary>
    public byte TransportProtocol { get; init; }
    /// <summary>IPv4 with MF or a fragment offset: the transport header may be elsewhere.</summary>
    public bool IsFragment { get; init; }

    public int TransportOffset => NetworkOffset + NetworkHeaderLength;
    public int TransportLength => PacketEnd - TransportOffset;

    /// <summary>
    /// Whether the frame's EtherType, after at most one VLAN tag as <see cref="TryParse"/> reads it, is IPv6:
    /// which of a frontend's checksum offloads (IPv4 or IPv6) covers it.
    /// </summary>
    public static bool IsIpv6(ReadOnlySpan<byte> frame) =>
        TryReadEtherType(frame, out var etherType, out _) && etherType == EtherTypeIpv6;

    /// <summary>
    /// The EtherType behind at most one VLAN (or QinQ outer) tag, and where the network header starts;
    /// false when the frame is too short to hold them.
    /// </summary>
    private static bool TryReadEtherType(ReadOnlySpan<byte> frame, out ushort etherType, out int networkOffset)
    {
        etherType = 0;
        networkOffset = 14;
        if (frame.Length < networkOffset)
            return false;
        etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12, 2));
        if (etherType is not (EtherTypeVlan or EtherTypeQinQ))
            return true;
        networkOffset = 18;
        if (frame.Length < networkOffset)
            return false;
        etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(16, 2));
        return true;
    }

    /// <summary>Parses an Ethernet frame's IP layout; <see cref="FrameParse.Ok"/> only for a consistent IPv4/IPv6 packet.</summary>
    public static FrameParse TryParse(ReadOnlySpan<byte> frame, out FrameLayout layout)
    {
        layout = default;
        if (!TryReadEtherType(frame, out var etherType, out var offset))
            return FrameParse.Malformed;
        return etherType switch
        {
            EtherTypeIpv4 => ParseIpv4(frame, offset, out layout),
            EtherTypeIpv6 => ParseIpv6(frame, offset, out layout),
            _ => FrameParse.NotIp,
        };
    }

    private static FrameParse ParseIpv4(ReadOnlySpan<byte> frame, int offset, out FrameLayout layout)
    {
        layout = default;
        if (frame.Length - offset < Ipv4MinHeaderLength)
            return FrameParse.Malformed;
        ReadOnlySpan<byte> ip = frame[offset..];
        if (ip[0] >> 4 != 4)
            return FrameParse.Malformed;
        int headerLength = (ip[0] & 0xF) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2, 2));
        if (headerLength < Ipv4MinHeaderLength || totalLength < headerLength || totalLength > ip.Length)
            return FrameParse.Malformed;
        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(6, 2));
        layout = new FrameLayout
        {
            NetworkOffset = offset,
            IpVersion = 4,
            NetworkHeaderLength = headerLength,
            PacketEnd = offset + totalLength,
            TransportProtocol = ip[9],
            // MF (0x2000) or a fragment offset (low 13 bits); DF (0x4000) is fine.
            IsFragment = (fragment & 0x3FFF) != 0,
        };
        return FrameParse.Ok;
    }

    private static FrameParse ParseIpv6(ReadOnlySpan<byte> frame, int offset, out FrameLayout layout)
    {
        layout = default;
        if (frame.Length - offset < Ipv6HeaderLength)
            return FrameParse.Malformed;
        ReadOnlySpan<byte> ip = frame[offset..];
        if (ip[0] >> 4 != 6)
            return FrameParse.Malformed;
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(4, 2));
        // Payload length 0 is a jumbogram (RFC 2675) or nothing at all: neither is ours to checksum.
        if (payloadLength == 0 || Ipv6HeaderLength + payloadLength > ip.Length)
            return FrameParse.Malformed;
        int packetLength = Ipv6HeaderLength + payloadLength;
        byte next = ip[6];
        int headerLength = Ipv6HeaderLength;
        for (int i = 0; i < MaxIpv6ExtensionHeaders && next is Ipv6HopByHop or Ipv6DestinationOptions; i++)
        {
            if (packetLength - headerLength < 8)
                return FrameParse.Malformed;
            int extensionLength = (ip[headerLength + 1] + 1) * 8;
            if (packetLength - headerLength < extensionLength)
                return FrameParse.Malformed;
            next = ip[headerLength];
            headerLength += extensionLength;
        }
        layout = new FrameLayout
        {
            NetworkOffset = offset,
            IpVersion = 6,
            NetworkHeaderLength = headerLength,
            PacketEnd = offset + packetLength,
            TransportProtocol = next,
            IsFragment = false,
        };
        return FrameParse.Ok;
    }
}
