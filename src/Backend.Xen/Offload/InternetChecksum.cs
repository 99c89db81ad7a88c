using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Backend.Xen.Offload;

/// <summary>
/// The Internet checksum (RFC 1071) over bytes as they lie in memory. The ones' complement sum does not
/// depend on byte order (RFC 1071 §2(B)), so words are summed in the machine's order and the result is
/// stored back in the machine's order, which lands it in network order in the packet; numbers that are
/// not already bytes of the packet (pseudo-header protocol and length) go through <see cref="Word"/>.
/// </summary>
public static class InternetChecksum
{
    /// <summary>
    /// Adds <paramref name="data"/> to a running sum. Every span but the last one of a checksum must have
    /// an even length, so that words stay aligned to the start of the checksummed region.
    /// </summary>
    public static ulong Add(ReadOnlySpan<byte> data, ulong sum)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        int i = 0;
        // 32-bit words into a 64-bit sum: 2^16 is 1 modulo 0xFFFF, so the fold at the end is exact, and
        // 2^32 additions of values below 2^32 cannot overflow 64 bits.
        for (; i + 8 <= length; i += 8)
        {
            ulong word = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            sum += (uint)word;
            sum += word >> 32;
        }
        if (i + 4 <= length)
        {
            sum += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
            i += 4;
        }
        if (i + 2 <= length)
        {
            sum += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, i));
            i += 2;
        }
        if (i < length)
        {
            // The odd byte is the high-order byte of a word padded with zero (network order).
            byte last = Unsafe.Add(ref start, i);
            sum += BitConverter.IsLittleEndian ? last : (uint)last << 8;
        }
        return sum;
    }

    /// <summary>A 16-bit number in network order, as <see cref="Add"/> would have read it from memory.</summary>
    public static ulong Word(ushort networkValue) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(networkValue) : networkValue;

    /// <summary>Folds a sum to 16 bits and complements it: the value to store with <see cref="Store"/>.</summary>
    public static ushort Finish(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        uint folded = (uint)sum;
        folded = (folded & 0xFFFF) + (folded >> 16);
        folded = (folded & 0xFFFF) + (folded >> 16);
        return (ushort)~folded;
    }

    /// <summary>Writes a checksum from <see cref="Finish"/> into a packet's 2-byte checksum field.</summary>
    public static void Store(Span<byte> field, ushort checksum) =>
        Unsafe.WriteUnaligned(ref MemoryMarshal.GetReference(field[..2]), checksum);

    /// <summary>The IPv4/IPv6 pseudo-header sum for TCP or UDP (RFC 793, RFC 768, RFC 8200 §8.1).</summary>
    public static ulong PseudoHeader(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, uint length)
    {
        ulong sum = Add(source, 0);
        sum = Add(destination, sum);
        sum += Word(protocol);
        sum += Word((ushort)(length >> 16));
        sum += Word((ushort)length);
        return sum;
    }
}
