using System.Buffers.Binary;
using Backend.Xen.Offload;

namespace Backend.Host.Bench;

/// <summary>
/// The bench's frames. A plain frame is Ethernet with the local experimental EtherType 0x88B5 and the bench
/// header right after it; a GSO frame is a TCP/IPv4 segment (so that a backend could segment it) with the
/// bench header at the start of the TCP payload. Bench header: kind (1 byte), pad, pad, pad, pad, pad, pad,
/// pad, sequence number (8, little-endian), sender's timestamp (8, <see cref="System.Diagnostics.Stopwatch"/> ticks).
/// </summary>
internal static class BenchFrame
{
    public const ushort BenchEtherType = 0x88B5;
    public const int PlainHeaderOffset = 14;
    public const int TcpHeaderOffset = 14 + 20 + 20;
    public const int HeaderLength = 24;
    public const int MinLength = 64;

    /// <summary>The largest TX frame (XEN_NETIF_MAX_TX_SIZE), sent as one GSO frame where both sides offer GSO.</summary>
    public const int GsoFrameLength = 65535;

    /// <summary>TCP MSS of the GSO frames: a 1500-byte MTU's.</summary>
    public const ushort GsoSize = 1448;

    public const byte Broadcast = 1;
    public const byte Stream = 2;
    public const byte Ping = 3;
    public const byte Pong = 4;

    /// <summary>Lays out a frame of <paramref name="frame"/>'s length; the payload is a fixed pattern.</summary>
    public static void Build(Span<byte> frame, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, bool tcp)
    {
        if (frame.Length < MinLength)
            throw new ArgumentException($"bench frames are at least {MinLength} bytes", nameof(frame));
        for (var i = 0; i < frame.Length; i++)
            frame[i] = (byte)(i * 7);
        destination.CopyTo(frame);
        source.CopyTo(frame[6..]);
        if (!tcp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], BenchEtherType);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x0800);
            var ip = frame[14..];
            ip[0] = 0x45;
            ip[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - 14));
            BinaryPrimitives.WriteUInt32BigEndian(ip[4..], 0x4000); // id 0, don't fragment
            ip[8] = 64;
            ip[9] = 6;
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A000001);
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0A000002);
            InternetChecksum.Store(ip[10..], InternetChecksum.Finish(InternetChecksum.Add(ip[..20], 0)));
            var tcpHeader = ip[20..];
            BinaryPrimitives.WriteUInt16BigEndian(tcpHeader, 5001);
            BinaryPrimitives.WriteUInt16BigEndian(tcpHeader[2..], 5002);
            BinaryPrimitives.WriteUInt32BigEndian(tcpHeader[4..], 1);
            BinaryPrimitives.WriteUInt32BigEndian(tcpHeader[8..], 0);
            tcpHeader[12] = 5 << 4;
            tcpHeader[13] = 0x18; // PSH, ACK
            BinaryPrimitives.WriteUInt16BigEndian(tcpHeader[14..], 65535);
            // The checksum is left blank (NETTXF_csum_blank): whoever segments or delivers fills it in.
            BinaryPrimitives.WriteUInt16BigEndian(tcpHeader[16..], 0);
        }
        frame.Slice(HeaderOffset(tcp), HeaderLength).Clear();
    }

    public static int HeaderOffset(bool tcp) => tcp ? TcpHeaderOffset : PlainHeaderOffset;

    public static void Stamp(Span<byte> frame, int headerOffset, byte kind, long sequence, long timestamp)
    {
        var h = frame[headerOffset..];
        h[0] = kind;
        BinaryPrimitives.WriteInt64LittleEndian(h[8..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], timestamp);
    }

    /// <summary>Reads a received frame's bench header; false when it is not a bench frame (hostile or foreign).</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out byte kind, out long sequence, out long timestamp, out int headerOffset)
    {
        kind = 0;
        sequence = timestamp = 0;
        headerOffset = 0;
        if (frame.Length < MinLength)
            return false;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (etherType == BenchEtherType)
            headerOffset = PlainHeaderOffset;
        else if (etherType == 0x0800 && frame[14] == 0x45 && frame[23] == 6)
            headerOffset = TcpHeaderOffset;
        else
            return false;
        var h = frame[headerOffset..];
        kind = h[0];
        sequence = BinaryPrimitives.ReadInt64LittleEndian(h[8..]);
        timestamp = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
        return true;
    }
}
