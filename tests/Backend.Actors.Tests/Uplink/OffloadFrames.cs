using System.Buffers.Binary;

namespace Backend.Actors.Tests.Uplink;

/// <summary>IPv4/IPv6 frames with a TCP (20-byte header) or UDP segment, for the TAP offload tests.</summary>
internal static class OffloadFrames
{
    public const int EthernetLength = 14;

    public static byte[] Ipv4(byte protocol, int payload)
    {
        var transport = Transport(protocol, payload);
        var frame = new byte[EthernetLength + 20 + transport.Length];
        Ethernet(frame, 0x0800);
        var ip = frame.AsSpan(EthernetLength);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + transport.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
        ip[8] = 64;
        ip[9] = protocol;
        byte[] source = [10, 0, 0, 1], destination = [10, 0, 0, 2];
        source.CopyTo(ip[12..]);
        destination.CopyTo(ip[16..]);
        transport.CopyTo(ip[20..]);
        return frame;
    }

    public static byte[] Ipv6(byte protocol, int payload)
    {
        var transport = Transport(protocol, payload);
        var frame = new byte[EthernetLength + 40 + transport.Length];
        Ethernet(frame, 0x86DD);
        var ip = frame.AsSpan(EthernetLength);
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)transport.Length);
        ip[6] = protocol;
        ip[7] = 64;
        ip[8] = 0xfd;
        ip[23] = 1;
        ip[24] = 0xfd;
        ip[39] = 2;
        transport.CopyTo(ip[40..]);
        return frame;
    }

    private static void Ethernet(byte[] frame, ushort type)
    {
        byte[] destination = [0x00, 0x16, 0x3e, 0, 0, 2], source = [0x00, 0x16, 0x3e, 0, 0, 1];
        destination.CopyTo(frame, 0);
        source.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), type);
    }

    private static byte[] Transport(byte protocol, int payload)
    {
        var header = protocol == 6 ? 20 : 8;
        var segment = new byte[header + payload];
        BinaryPrimitives.WriteUInt16BigEndian(segment, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), 5001);
        if (protocol == 6)
        {
            segment[12] = 5 << 4;
            segment[13] = 0x18;
            BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(16), 0xbaad); // garbage: must be replaced
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(4), (ushort)segment.Length);
            BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(6), 0xbaad);
        }
        for (var i = header; i < segment.Length; i++)
            segment[i] = (byte)(i * 13 + 7);
        return segment;
    }
}
