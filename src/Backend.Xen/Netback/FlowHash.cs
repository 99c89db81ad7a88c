using System.Buffers.Binary;

namespace Backend.Xen.Netback;

/// <summary>
/// A hash of an Ethernet frame's flow: its L3 source and destination addresses and, for TCP and UDP, its
/// ports (after one VLAN tag, if any). Every frame of one flow has the same hash, so a queue picked by it
/// keeps a flow on one queue and in order, as Linux's <c>skb_get_hash</c> does for <c>xenvif_select_queue</c>
/// when the frontend set no hash algorithm. An IP fragment hashes its addresses only, so the fragments of
/// one datagram (only the first carries ports) stay together. Reads a guest's or the host's frame: every
/// length is checked, nothing is allocated.
/// </summary>
public static class FlowHash
{
    private const ushort Vlan = 0x8100;
    private const ushort Ipv4 = 0x0800;
    private const ushort Ipv6 = 0x86DD;
    private const byte Tcp = 6;
    private const byte Udp = 17;

    /// <summary>The flow hash of <paramref name="frame"/>; false (and 0) for a frame that is not IP or too short to be.</summary>
    public static bool TryCompute(ReadOnlySpan<byte> frame, out uint hash)
    {
        hash = 0;
        if (frame.Length < 14)
            return false;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        var l3 = 14;
        if (etherType == Vlan)
        {
            if (frame.Length < 18)
                return false;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
            l3 = 18;
        }
        var ip = frame[l3..];
        ReadOnlySpan<byte> addresses;
        int l4;
        byte protocol;
        bool fragment;
        if (etherType == Ipv4)
        {
            if (ip.Length < 20 || ip[0] >> 4 != 4)
                return false;
            var headerLength = (ip[0] & 0xF) * 4;
            if (headerLength < 20 || ip.Length < headerLength)
                return false;
            addresses = ip.Slice(12, 8);
            protocol = ip[9];
            // MF set or a fragment offset: a fragment.
            fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0;
            l4 = headerLength;
        }
        else if (etherType == Ipv6)
        {
            if (ip.Length < 40 || ip[0] >> 4 != 6)
                return false;
            addresses = ip.Slice(8, 32);
            // Extension headers are not followed: such a flow hashes its addresses only, still one queue.
            protocol = ip[6];
            fragment = false;
            l4 = 40;
        }
        else
        {
            return false;
        }

        var h = Mix(0x9E3779B9u, protocol);
        for (var i = 0; i + 4 <= addresses.Length; i += 4)
            h = Mix(h, BinaryPrimitives.ReadUInt32BigEndian(addresses[i..]));
        if (!fragment && protocol is Tcp or Udp && ip.Length >= l4 + 4)
            h = Mix(h, BinaryPrimitives.ReadUInt32BigEndian(ip[l4..]));
        hash = Finish(h);
        return true;
    }

    // One round of MurmurHash3's 32-bit body, and its finalizer: every input bit reaches every output bit,
    // so the low bits a modulo keeps differ between flows that differ in any field.
    private static uint Mix(uint h, uint k)
    {
        k *= 0xCC9E2D51u;
        k = uint.RotateLeft(k, 15);
        k *= 0x1B873593u;
        h ^= k;
        h = uint.RotateLeft(h, 13);
        return h * 5 + 0xE6546B64u;
    }

    private static uint Finish(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        h ^= h >> 16;
        return h;
    }
}
