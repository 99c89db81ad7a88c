using System.Buffers.Binary;

namespace Backend.Xen.Tests.Netfront;

/// <summary>
/// Ethernet frames that carry their own check: ethertype 0x88B5 (local experimental), then the sequence
/// number, the frame length and an FNV-1a hash of the payload that follows, so that a receiver can tell
/// a lost, repeated, truncated or corrupted frame from a good one.
/// </summary>
public static class TestFrames
{
    public const int HeaderLength = 14 + 12;
    public const ushort EtherType = 0x88B5;

    public static void Write(Span<byte> frame, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, uint sequence)
    {
        destination.CopyTo(frame);
        source.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherType);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[14..], sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[18..], (uint)frame.Length);
        var payload = frame[HeaderLength..];
        var x = sequence * 2654435761u + 1;
        for (var i = 0; i < payload.Length; i++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            payload[i] = (byte)x;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(frame[22..], Hash(payload));
    }

    /// <summary>The sequence number of a good frame, or null when it is not one of ours or is damaged.</summary>
    public static uint? Check(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherType)
            return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(frame[18..]) != (uint)frame.Length)
            return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(frame[22..]) != Hash(frame[HeaderLength..]))
            return null;
        return BinaryPrimitives.ReadUInt32LittleEndian(frame[14..]);
    }

    private static uint Hash(ReadOnlySpan<byte> data)
    {
        var h = 2166136261u;
        foreach (var b in data)
            h = (h ^ b) * 16777619u;
        return h;
    }
}
