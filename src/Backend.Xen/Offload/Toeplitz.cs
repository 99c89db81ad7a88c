using System.Buffers.Binary;
using Backend.Xen.Abi;

namespace Backend.Xen.Offload;

/// <summary>
/// The Toeplitz hash exactly as xen/io/netif.h's <c>xen_netif_toeplitz_hash</c> (a key shorter than the
/// input is padded with zero bytes), and the flow hashes of XEN_NETIF_CTRL_HASH_TYPE_*: addresses and
/// ports in network order, source before destination.
/// </summary>
public static class Toeplitz
{
    /// <summary>netif.h's XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP input: 16 + 16 + 2 + 2 bytes, the longest.</summary>
    private const int MaxInputLength = 36;

    public static uint Hash(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input)
    {
        ulong prefix = 0;
        int keyIndex;
        for (keyIndex = 0; keyIndex < 8; keyIndex++)
            prefix = (prefix << 8) | (keyIndex < key.Length ? key[keyIndex] : 0u);

        ulong hash = 0;
        foreach (byte value in input)
        {
            uint bits = value;
            for (int bit = 0; bit < 8; bit++)
            {
                if ((bits & 0x80) != 0)
                    hash ^= prefix;
                prefix <<= 1;
                bits <<= 1;
            }
            // prefix has moved left by 8: bring in the next key byte.
            prefix |= keyIndex < key.Length ? key[keyIndex] : 0u;
            keyIndex++;
        }
        return (uint)(hash >> 32);
    }

    /// <summary>XEN_NETIF_CTRL_HASH_TYPE_IPV4: source and destination address (4 bytes each).</summary>
    public static uint HashIpv4(ReadOnlySpan<byte> key, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination)
    {
        Span<byte> input = stackalloc byte[8];
        source[..4].CopyTo(input);
        destination[..4].CopyTo(input[4..]);
        return Hash(key, input);
    }

    /// <summary>XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP: addresses, then source and destination port.</summary>
    public static uint HashIpv4Tcp(ReadOnlySpan<byte> key, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination,
        ushort sourcePort, ushort destinationPort)
    {
        Span<byte> input = stackalloc byte[12];
        source[..4].CopyTo(input);
        destination[..4].CopyTo(input[4..]);
        BinaryPrimitives.WriteUInt16BigEndian(input[8..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(input[10..], destinationPort);
        return Hash(key, input);
    }

    /// <summary>XEN_NETIF_CTRL_HASH_TYPE_IPV6: source and destination address (16 bytes each).</summary>
    public static uint HashIpv6(ReadOnlySpan<byte> key, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination)
    {
        Span<byte> input = stackalloc byte[32];
        source[..16].CopyTo(input);
        destination[..16].CopyTo(input[16..]);
        return Hash(key, input);
    }

    /// <summary>XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP: addresses, then source and destination port.</summary>
    public static uint HashIpv6Tcp(ReadOnlySpan<byte> key, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination,
        ushort sourcePort, ushort destinationPort)
    {
        Span<byte> input = stackalloc byte[MaxInputLength];
        source[..16].CopyTo(input);
        destination[..16].CopyTo(input[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(input[32..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(input[34..], destinationPort);
        return Hash(key, input);
    }

    /// <summary>
    /// Hashes an Ethernet frame's flow with the most specific type enabled in <paramref name="hashTypes"/>
    /// (a bitwise OR of <see cref="NetifCtrlStatus"/>.HashType*), as Linux's xenvif_set_skb_hash: the TCP
    /// type for an unfragmented TCP packet when enabled, else the address-only type when enabled.
    /// Returns false (no hash) for a non-IP or malformed frame, or when no enabled type applies;
    /// <paramref name="hashType"/> is then 0, else the _XEN_NETIF_CTRL_HASH_TYPE_* bit number used.
    /// </summary>
    public static bool TryHashFrame(ReadOnlySpan<byte> key, ReadOnlySpan<byte> frame, uint hashTypes,
        out uint hash, out byte hashType)
    {
        hash = 0;
        hashType = 0;
        if (FrameLayout.TryParse(frame, out FrameLayout layout) != FrameParse.Ok)
            return false;
        ReadOnlySpan<byte> ip = frame.Slice(layout.NetworkOffset, layout.NetworkHeaderLength);
        bool tcp = layout.TransportProtocol == FrameLayout.ProtocolTcp && !layout.IsFragment
            && layout.TransportLength >= 4;
        ushort sourcePort = 0, destinationPort = 0;
        if (tcp)
        {
            sourcePort = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(layout.TransportOffset, 2));
            destinationPort = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(layout.TransportOffset + 2, 2));
        }

        if (layout.IpVersion == 4)
        {
            if (tcp && (hashTypes & NetifCtrlStatus.HashTypeIpv4Tcp) != 0)
            {
                hash = HashIpv4Tcp(key, ip.Slice(12, 4), ip.Slice(16, 4), sourcePort, destinationPort);
                hashType = 1;
                return true;
            }
            if ((hashTypes & NetifCtrlStatus.HashTypeIpv4) != 0)
            {
                hash = HashIpv4(key, ip.Slice(12, 4), ip.Slice(16, 4));
                hashType = 0;
                return true;
            }
            return false;
        }

        if (tcp && (hashTypes & NetifCtrlStatus.HashTypeIpv6Tcp) != 0)
        {
            hash = HashIpv6Tcp(key, ip.Slice(8, 16), ip.Slice(24, 16), sourcePort, destinationPort);
            hashType = 3;
            return true;
        }
        if ((hashTypes & NetifCtrlStatus.HashTypeIpv6) != 0)
        {
            hash = HashIpv6(key, ip.Slice(8, 16), ip.Slice(24, 16));
            hashType = 2;
            return true;
        }
        return false;
    }
}
