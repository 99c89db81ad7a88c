using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Backend.TestSupport;

/// <summary>
/// Ethernet frames that carry their own check, for the tests that send frames end to end and count what
/// arrives: ethertype 0x88B5 (IEEE local experimental), then the sequence number, the frame's length and
/// an FNV-1a hash of the payload that follows, so that a receiver can tell a lost, repeated, truncated or
/// corrupted frame from a good one. (For frames built header by header, as an offload test needs them,
/// see <see cref="Packets"/>.)
/// </summary>
public static class CheckedFrames
{
    public const int HeaderLength = 14 + 12;
    public const ushort EtherType = 0x88B5;

    /// <summary>Lays out a frame of <paramref name="frame"/>'s length (at least <see cref="HeaderLength"/>).</summary>
    public static void Write(Span<byte> frame, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, uint sequence)
    {
        if (frame.Length < HeaderLength)
            throw new ArgumentException($"a checked frame has at least {HeaderLength} bytes, not {frame.Length}", nameof(frame));
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
    public static uint? Check(ReadOnlySpan<byte> frame) =>
        Verify(frame, out var corruption) is { } sequence && corruption is null ? sequence : null;

    /// <summary>
    /// The sequence number of one of ours, or null when the frame is not one (too short, another
    /// ethertype); <paramref name="corruption"/> says what is wrong with one of ours that is damaged.
    /// </summary>
    public static uint? Verify(ReadOnlySpan<byte> frame, out string? corruption)
    {
        corruption = null;
        if (frame.Length < HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherType)
            return null;
        var sequence = BinaryPrimitives.ReadUInt32LittleEndian(frame[14..]);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(frame[18..]);
        if (length != (uint)frame.Length)
            corruption = $"frame {sequence}: {frame.Length} bytes, header says {length}";
        else if (BinaryPrimitives.ReadUInt32LittleEndian(frame[22..]) != Hash(frame[HeaderLength..]))
            corruption = $"frame {sequence}: payload hash mismatch ({frame.Length} bytes)";
        return sequence;
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
