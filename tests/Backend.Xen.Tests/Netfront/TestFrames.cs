using System.Buffers.Binary;
using System.Runtime.InteropServices;

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
        // Eight bytes a step: the payload must differ from frame to frame, and cost little to make.
        var words = MemoryMarshal.Cast<byte, ulong>(payload);
        var x = (sequence * 0x9E3779B97F4A7C15UL) | 1;
        for (var i = 0; i < words.Length; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            words[i] = x;
        }
        for (var i = words.Length * 8; i < payload.Length; i++)
            payload[i] = (byte)(x >> (i % 8 * 8));
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

    /// <summary>FNV-1a over 64-bit words (then the tail bytes): any changed byte changes it.</summary>
    private static uint Hash(ReadOnlySpan<byte> data)
    {
        var h = 14695981039346656037UL;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        for (var i = 0; i < words.Length; i++)
            h = (h ^ words[i]) * 1099511628211UL;
        for (var i = words.Length * 8; i < data.Length; i++)
            h = (h ^ data[i]) * 1099511628211UL;
        return (uint)(h ^ (h >> 32));
    }
}
