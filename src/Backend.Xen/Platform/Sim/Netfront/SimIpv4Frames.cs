using System.Buffers.Binary;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// The few Ethernet/ARP/IPv4/ICMP frames a simulated guest needs to answer and send pings, written into
/// caller-provided buffers (no allocation), with RFC 1071 checksums.
/// </summary>
public static class SimIpv4Frames
{
    public const int EthernetHeader = 14;
    public const ushort EtherTypeIpv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const int ArpFrameLength = EthernetHeader + 28;
    public const int Ipv4HeaderLength = 20;
    public const int IcmpHeaderLength = 8;
    public const byte ProtocolIcmp = 1;
    public const byte ProtocolUdp = 17;
    public const int UdpHeaderLength = 8;
    public const byte IcmpEchoReply = 0;
    public const byte IcmpEchoRequest = 8;
    public const ushort ArpRequest = 1;
    public const ushort ArpReply = 2;

    /// <summary>The Internet checksum (RFC 1071) of <paramref name="data"/>, ready to store big-endian.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        var i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length)
            sum += (ulong)data[i] << 8;
        while ((sum >> 16) != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>An ARP request or reply (Ethernet/IPv4); returns its length.</summary>
    public static int WriteArp(Span<byte> frame, ushort operation, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> senderMac, uint senderIp, ReadOnlySpan<byte> targetMac, uint targetIp)
    {
        WriteEthernet(frame, destinationMac, senderMac, EtherTypeArp);
        var arp = frame[EthernetHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], EtherTypeIpv4);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], operation);
        senderMac.CopyTo(arp[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], senderIp);
        targetMac.CopyTo(arp[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], targetIp);
        return ArpFrameLength;
    }

    /// <summary>
    /// An ICMP echo request or reply in IPv4 in Ethernet, the payload copied from <paramref name="payload"/>;
    /// both checksums filled in. Returns the frame's length.
    /// </summary>
    public static int WriteIcmpEcho(Span<byte> frame, byte type, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac,
        uint sourceIp, uint destinationIp, ushort identifier, ushort sequence, ReadOnlySpan<byte> payload, ushort ipId)
    {
        var total = EthernetHeader + Ipv4HeaderLength + IcmpHeaderLength + payload.Length;
        WriteEthernet(frame, destinationMac, sourceMac, EtherTypeIpv4);
        var ip = frame.Slice(EthernetHeader, Ipv4HeaderLength);
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(Ipv4HeaderLength + IcmpHeaderLength + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], ipId);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // don't fragment
        ip[8] = 64;
        ip[9] = ProtocolIcmp;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], sourceIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destinationIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip));
        var icmp = frame.Slice(EthernetHeader + Ipv4HeaderLength, IcmpHeaderLength + payload.Length);
        icmp[0] = type;
        icmp[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
        payload.CopyTo(icmp[IcmpHeaderLength..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum(icmp));
        return total;
    }

    /// <summary>
    /// A UDP datagram in IPv4 in Ethernet filling <paramref name="frame"/> (its payload left as it is), with
    /// the IPv4 header checksum and UDP checksum 0 ("none", which IPv4 allows). Returns the frame's length.
    /// </summary>
    public static int WriteUdp(Span<byte> frame, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac,
        uint sourceIp, uint destinationIp, ushort sourcePort, ushort destinationPort, ushort ipId)
    {
        if (frame.Length < EthernetHeader + Ipv4HeaderLength + UdpHeaderLength || frame.Length - EthernetHeader > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(frame), frame.Length, "a UDP frame is 42..65549 bytes");
        WriteEthernet(frame, destinationMac, sourceMac, EtherTypeIpv4);
        var ip = frame.Slice(EthernetHeader, Ipv4HeaderLength);
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - EthernetHeader));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], ipId);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
        ip[8] = 64;
        ip[9] = ProtocolUdp;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], sourceIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destinationIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip));
        var udp = frame[(EthernetHeader + Ipv4HeaderLength)..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
        return frame.Length;
    }

    private static void WriteEthernet(Span<byte> frame, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, ushort etherType)
    {
        destination[..6].CopyTo(frame);
        source[..6].CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], etherType);
    }
}
