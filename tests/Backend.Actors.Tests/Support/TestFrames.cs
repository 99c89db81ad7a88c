using System.Buffers.Binary;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// Frames a test can check end to end: Ethernet (destination, source, ethertype 0x88B5, the IEEE local
/// experimental type), then the sender's sequence number, the payload length, an FNV-1a hash of the
/// payload, and the payload, a pattern derived from the sequence number.
/// </summary>
public static class TestFrames
{
    public const int HeaderLength = 14 + 16;

    public static int Write(Span<byte> frame, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, uint sequence, int length)
    {
        destination.CopyTo(frame);
        source.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x88B5);
        var payload = frame.Slice(HeaderLength, length - HeaderLength);
        for (var i = 0; i < payload.Length; i++)
            payload[i] = (byte)(sequence * 31 + (uint)i * 7);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[14..], sequence);
        BinaryPrimitives.WriteInt32LittleEndian(frame[18..], payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[22..], Fnv1a(payload));
        return length;
    }

    /// <summary>Checks a received frame; returns its sequence number, or null when it is not one of ours.</summary>
    public static uint? Verify(ReadOnlySpan<byte> frame, out string? corruption)
    {
        corruption = null;
        if (frame.Length < HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x88B5)
            return null;
        var sequence = BinaryPrimitives.ReadUInt32LittleEndian(frame[14..]);
        var length = BinaryPrimitives.ReadInt32LittleEndian(frame[18..]);
        if (length != frame.Length - HeaderLength)
            corruption = $"frame {sequence}: payload length {frame.Length - HeaderLength}, header says {length}";
        else if (Fnv1a(frame[HeaderLength..]) != BinaryPrimitives.ReadUInt64LittleEndian(frame[22..]))
            corruption = $"frame {sequence}: payload hash mismatch ({frame.Length} bytes)";
        return sequence;
    }

    public static ulong Fnv1a(ReadOnlySpan<byte> data)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in data)
            hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    /// <summary>
    /// A TCP/IPv4 frame of <paramref name="frame"/>'s length (20-byte IP and TCP headers, ACK, a zero
    /// payload; checksums left to whoever fills them), as a GSO sender would hand it over.
    /// </summary>
    public static byte[] TcpIpv4(ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, int length)
    {
        var frame = new byte[length];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        frame[14] = 0x45; // IPv4, 20-byte header
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)(length - 14));
        frame[22] = 64;
        frame[23] = 6; // TCP
        frame[14 + 20 + 12] = 0x50; // 20-byte TCP header
        frame[14 + 20 + 13] = 0x10; // ACK
        return frame;
    }
}
