using System.Buffers.Binary;

namespace Backend.TestSupport;

/// <summary>
/// Builds frames header by header (Ethernet, IPv4/IPv6, TCP/UDP) so that an offload or segmentation test
/// reads like the packet it is. (For frames a receiver checks end to end, see <see cref="CheckedFrames"/>.)
/// </summary>
public static class Packets
{
    public const int EthernetLength = 14;
    public const ushort EtherTypeIpv4 = 0x0800;
    public const ushort EtherTypeIpv6 = 0x86DD;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;

    public static readonly byte[] Ipv4Source = [192, 168, 10, 4];
    public static readonly byte[] Ipv4Destination = [192, 168, 10, 5];
    public static readonly byte[] Ipv6Source = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];
    public static readonly byte[] Ipv6Destination = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02];

    private static readonly byte[] DefaultDestinationMac = [0x00, 0x16, 0x3e, 0x23, 0x50, 0x0b];
    private static readonly byte[] DefaultSourceMac = [0x00, 0x16, 0x30, 0x00, 0x00, 0x00];

    public static byte[] Ethernet(ushort etherType, byte[] payload) => Ethernet(DefaultDestinationMac, DefaultSourceMac, etherType, payload);

    public static byte[] Ethernet(ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, ushort etherType, byte[] payload)
    {
        var frame = new byte[EthernetLength + payload.Length];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        payload.CopyTo(frame, EthernetLength);
        return frame;
    }

    /// <summary>An IPv4 header (IHL 5) followed by <paramref name="transport"/>, header checksum 0.</summary>
    public static byte[] Ipv4(byte protocol, byte[] transport, ushort id = 1, ushort fragment = 0x4000, ushort checksum = 0)
    {
        var packet = new byte[20 + transport.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), fragment);
        packet[8] = 64;
        packet[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), checksum);
        Ipv4Source.CopyTo(packet, 12);
        Ipv4Destination.CopyTo(packet, 16);
        transport.CopyTo(packet, 20);
        return packet;
    }

    public static byte[] Ipv6(byte nextHeader, byte[] transport)
    {
        var packet = new byte[40 + transport.Length];
        packet[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)transport.Length);
        packet[6] = nextHeader;
        packet[7] = 64;
        Ipv6Source.CopyTo(packet, 8);
        Ipv6Destination.CopyTo(packet, 24);
        transport.CopyTo(packet, 40);
        return packet;
    }

    /// <summary>
    /// A TCP header, then the payload: with <paramref name="timestamps"/> 12 bytes of options (NOP NOP
    /// timestamp) make it 32 bytes, without it is the plain 20.
    /// </summary>
    public static byte[] Tcp(byte[] payload, uint sequence = 0x00f72b10, byte flags = 0x18, ushort checksum = 0xbaad, bool timestamps = true)
    {
        var header = timestamps ? 32 : 20;
        var segment = new byte[header + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(0), 0x9cd9);
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), 2222);
        BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(4), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(8), 0x7f37ba6c);
        segment[12] = (byte)(header / 4 << 4);
        segment[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(14), 0x410);
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(16), checksum);
        if (timestamps)
        {
            BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(20), 0x0101080a);
            BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(24), 0x000081df);
            BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(28), 0xce18207f);
        }
        payload.CopyTo(segment, header);
        return segment;
    }

    public static byte[] Udp(byte[] payload, ushort checksum = 0xbaad)
    {
        var datagram = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(0), 0x51ae);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), 0x08ae);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(4), (ushort)datagram.Length);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(6), checksum);
        payload.CopyTo(datagram, 8);
        return datagram;
    }

    /// <summary>
    /// A TCP/IPv4 frame of <paramref name="length"/> bytes as a GSO sender hands it over: 20-byte IP and
    /// TCP headers, ACK, a zero payload, the checksums left to whoever fills them.
    /// </summary>
    public static byte[] TcpIpv4(ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, int length) =>
        Ethernet(destination, source, EtherTypeIpv4,
            Ipv4(ProtocolTcp, Tcp(new byte[length - EthernetLength - 20 - 20], flags: 0x10, checksum: 0, timestamps: false), id: 0, fragment: 0));

    public static byte[] Payload(int length, int seed = 1)
    {
        var payload = new byte[length];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    public static ushort ReadUInt16(byte[] frame, int offset) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(offset));
}
