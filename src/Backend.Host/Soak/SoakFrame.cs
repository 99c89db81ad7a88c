using System.Buffers.Binary;

namespace Backend.Host.Soak;

/// <summary>
/// The soak's frames: Ethernet with the local experimental EtherType 0x88B6, then a header — kind (1),
/// pad (1), stream (2: the sender's domid), sequence number (8), sender's timestamp (8,
/// <see cref="System.Diagnostics.Stopwatch"/> ticks; the soak's guests share one clock), payload length (2),
/// FNV-1a of the payload (4) — then the payload, a pattern of (stream, sequence). The receiver recomputes
/// the checksum and the pattern: a frame damaged anywhere after the header fails one or the other.
/// </summary>
internal static class SoakFrame
{
    public const ushort EtherType = 0x88B6;
    public const int HeaderOffset = 14;
    public const int HeaderLength = 26;
    public const int PayloadOffset = HeaderOffset + HeaderLength;
    public const int MinLength = 64;

    public const byte Stream = 1;
    public const byte Ping = 2;
    public const byte Pong = 3;
    public const byte Announce = 4;

    /// <summary>Lays out a whole frame of <paramref name="frame"/>'s length.</summary>
    public static void Build(Span<byte> frame, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, byte kind, ushort stream, long sequence, long timestamp)
    {
        destination.CopyTo(frame);
        source.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherType);
        var payload = frame[PayloadOffset..];
        Pattern(payload, stream, sequence);
        var h = frame[HeaderOffset..];
        h[0] = kind;
        h[1] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(h[2..], stream);
        BinaryPrimitives.WriteInt64LittleEndian(h[4..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(h[12..], timestamp);
        BinaryPrimitives.WriteUInt16LittleEndian(h[20..], (ushort)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[22..], Fnv1a(payload));
    }

    /// <summary>The length of frame <paramref name="sequence"/> of a stream: 64 bytes up to <paramref name="maxLength"/>, varied so that frames take one or several slots.</summary>
    public static int Length(long sequence, int maxLength)
    {
        // A spread that is cheap to recompute: mostly small and MTU-sized frames, every 16th a large one.
        var span = maxLength - MinLength;
        return (sequence & 15) == 15 ? maxLength : MinLength + (int)((ulong)(sequence * 2654435761L) % (ulong)Math.Min(span, 1450));
    }

    /// <summary>Reads the header; false when the frame is not a soak frame at all.</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out byte kind, out ushort stream, out long sequence, out long timestamp)
    {
        kind = 0;
        stream = 0;
        sequence = timestamp = 0;
        if (frame.Length < MinLength || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherType)
            return false;
        var h = frame[HeaderOffset..];
        kind = h[0];
        stream = BinaryPrimitives.ReadUInt16LittleEndian(h[2..]);
        sequence = BinaryPrimitives.ReadInt64LittleEndian(h[4..]);
        timestamp = BinaryPrimitives.ReadInt64LittleEndian(h[12..]);
        return true;
    }

    /// <summary>Whether the payload is whole: its length, its checksum and its pattern all as sent.</summary>
    public static bool IsIntact(ReadOnlySpan<byte> frame, ushort stream, long sequence)
    {
        var h = frame[HeaderOffset..];
        var length = BinaryPrimitives.ReadUInt16LittleEndian(h[20..]);
        if (frame.Length != PayloadOffset + length)
            return false;
        var payload = frame[PayloadOffset..];
        if (Fnv1a(payload) != BinaryPrimitives.ReadUInt32LittleEndian(h[22..]))
            return false;
        for (var i = 0; i < payload.Length; i++)
        {
            if (payload[i] != PatternByte(stream, sequence, i))
                return false;
        }
        return true;
    }

    private static void Pattern(Span<byte> payload, ushort stream, long sequence)
    {
        for (var i = 0; i < payload.Length; i++)
            payload[i] = PatternByte(stream, sequence, i);
    }

    private static byte PatternByte(ushort stream, long sequence, int i) => (byte)((sequence * 31) + (i * 7) + stream + (i >> 8));

    private static uint Fnv1a(ReadOnlySpan<byte> data)
    {
        var hash = 2166136261u;
        foreach (var b in data)
            hash = (hash ^ b) * 16777619u;
        return hash;
    }
}
