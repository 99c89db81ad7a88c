using System.Buffers.Binary;
using Backend.Xen.Abi;

namespace Backend.Fuzz.Ctrl;

/// <summary>
/// The <c>ctrl</c> target's reference: what Linux netback's <c>process_ctrl_request</c> and hash.c answer to
/// each control request, and the <c>struct xenvif_hash</c> they leave behind. It is written again from
/// Linux's code, in Linux's shape (two mapping tables and <c>mapping_sel</c>, the copy made into the
/// unselected one and swapped in only when every entry is good), not from <c>CtrlRequestHandler</c>, so
/// that the handler's answers are predicted rather than replayed. Its limits are its own constants for the
/// same reason: a product constant changed by mistake shows as a disagreement.
/// </summary>
internal sealed class CtrlHashModel(int queues)
{
    /// <summary>XEN_NETBK_MAX_HASH_KEY_SIZE.</summary>
    public const int KeySize = 40;

    /// <summary>XEN_NETBK_MAX_HASH_MAPPING_SIZE: what GET_HASH_MAPPING_SIZE answers.</summary>
    public const int MaxMappingSize = 128;

    /// <summary>The four XEN_NETIF_CTRL_HASH_TYPE_* bits (IPv4, IPv4+TCP, IPv6, IPv6+TCP): 1, 2, 4, 8.</summary>
    public const uint AllTypes = 0xF;

    private const uint AlgorithmNone = 0;
    private const uint AlgorithmToeplitz = 1;

    private readonly byte[] _key = new byte[KeySize];
    // Linux's vif->hash.mapping[2]: SET_HASH_MAPPING fills the one not selected, from the selected one.
    private readonly uint[][] _tables = [new uint[MaxMappingSize], new uint[MaxMappingSize]];
    private int _selected;

    /// <summary>vif->hash.alg.</summary>
    public uint Algorithm { get; private set; } = AlgorithmNone;

    /// <summary>vif->hash.flags.</summary>
    public uint Flags { get; private set; }

    /// <summary>vif->hash.size: the mapping table's length.</summary>
    public int Size { get; private set; }

    /// <summary>vif->num_queues: what every mapping entry must be below.</summary>
    public int Queues { get; set; } = queues;

    public ReadOnlySpan<byte> Key => _key;

    public ReadOnlySpan<uint> Mapping => _tables[_selected].AsSpan(0, Size);

    /// <summary>Whether a frame is hashed at all (Linux's <c>xenvif_set_skb_hash</c> needs Toeplitz and a type).</summary>
    public bool Hashing => Algorithm == AlgorithmToeplitz && Flags != 0;

    /// <summary>
    /// Linux's answer to <paramref name="request"/> up to its grant copy: false with the status and data
    /// when it answers without one (the state changed as Linux changes it), true with the copy's length in
    /// bytes when it copies (answered by <see cref="Complete"/>).
    /// </summary>
    public bool Begin(in NetifCtrlRequest request, out int copyLength, out uint status, out uint data)
    {
        copyLength = 0;
        data = 0;
        switch (request.Type)
        {
            case NetifCtrlType.SetHashAlgorithm:
                // xenvif_set_hash_alg: NONE and TOEPLITZ only.
                if (request.Data0 is not (AlgorithmNone or AlgorithmToeplitz))
                {
                    status = NetifCtrlStatus.InvalidParameter;
                    return false;
                }
                Algorithm = request.Data0;
                status = NetifCtrlStatus.Success;
                return false;

            case NetifCtrlType.GetHashFlags:
                // xenvif_get_hash_flags: nothing to say before an algorithm; data stays 0 then.
                if (Algorithm == AlgorithmNone)
                {
                    status = NetifCtrlStatus.NotSupported;
                    return false;
                }
                data = AllTypes;
                status = NetifCtrlStatus.Success;
                return false;

            case NetifCtrlType.SetHashFlags:
                // xenvif_set_hash_flags: unknown bits first, then the algorithm; 0 is a good value.
                if ((request.Data0 & ~AllTypes) != 0 || Algorithm == AlgorithmNone)
                {
                    status = NetifCtrlStatus.InvalidParameter;
                    return false;
                }
                Flags = request.Data0;
                status = NetifCtrlStatus.Success;
                return false;

            case NetifCtrlType.SetHashKey:
                // xenvif_set_hash_key(gref = data[0], len = data[1]).
                if (request.Data1 > KeySize)
                {
                    status = NetifCtrlStatus.InvalidParameter;
                    return false;
                }
                if (request.Data1 == 0)
                {
                    // No copy; the memset clears the whole key.
                    Array.Clear(_key);
                    status = NetifCtrlStatus.Success;
                    return false;
                }
                copyLength = (int)request.Data1;
                status = 0;
                return true;

            case NetifCtrlType.GetHashMappingSize:
                data = MaxMappingSize;
                status = NetifCtrlStatus.Success;
                return false;

            case NetifCtrlType.SetHashMappingSize:
                // xenvif_set_hash_mapping_size: the selected table is zeroed up to the new size.
                if (request.Data0 > MaxMappingSize)
                {
                    status = NetifCtrlStatus.InvalidParameter;
                    return false;
                }
                Size = (int)request.Data0;
                Array.Clear(_tables[_selected], 0, Size);
                status = NetifCtrlStatus.Success;
                return false;

            case NetifCtrlType.SetHashMapping:
            {
                // xenvif_set_hash_mapping(gref = data[0], len = data[1], off = data[2]). Linux checks that
                // off + len does not wrap, is within the size, and that len * 4 is at most a page. In 64-bit
                // arithmetic the first two are one check, and since the size is at most 128 entries it
                // implies the third.
                var length = request.Data1;
                var offset = request.Data2;
                if ((ulong)offset + length > (ulong)Size)
                {
                    status = NetifCtrlStatus.InvalidParameter;
                    return false;
                }
                if (length == 0)
                {
                    // No copy, no entry to check: Linux swaps in an identical table.
                    status = NetifCtrlStatus.Success;
                    return false;
                }
                copyLength = (int)length * sizeof(uint);
                status = 0;
                return true;
            }

            default:
                // process_ctrl_request's default: INVALID, the GREF_MAPPING types and anything unknown.
                status = NetifCtrlStatus.NotSupported;
                return false;
        }
    }

    /// <summary>
    /// Linux's answer to a request whose copy has run: <paramref name="copied"/> false for a failed copy
    /// (GNTST_* not okay), else <paramref name="bytes"/> are the bytes the frontend's grant held at the copy.
    /// </summary>
    public uint Complete(in NetifCtrlRequest request, bool copied, ReadOnlySpan<byte> bytes)
    {
        if (!copied)
            return NetifCtrlStatus.InvalidParameter;
        if (request.Type == NetifCtrlType.SetHashKey)
        {
            // The copy lands in vif->hash.key, then the memset zeroes the rest.
            var length = (int)request.Data1;
            bytes[..length].CopyTo(_key);
            Array.Clear(_key, length, KeySize - length);
            return NetifCtrlStatus.Success;
        }

        // SET_HASH_MAPPING: memcpy the selected table into the other, copy the run over it, check every
        // copied entry against num_queues, and only then flip mapping_sel.
        var offset = (int)request.Data2;
        var count = (int)request.Data1;
        var next = _tables[1 - _selected];
        _tables[_selected].AsSpan(0, Size).CopyTo(next);
        for (var i = 0; i < count; i++)
            next[offset + i] = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(i * sizeof(uint), sizeof(uint)));
        for (var i = 0; i < count; i++)
        {
            if (next[offset + i] >= (uint)Queues)
                return NetifCtrlStatus.InvalidParameter;
        }
        _selected = 1 - _selected;
        return NetifCtrlStatus.Success;
    }

    /// <summary>
    /// The queue a hash goes to: the table's entry for it, or the hash modulo the queues without a table;
    /// an entry left at or above the queues by a connection with fewer of them is taken modulo the queues
    /// (where Linux's core would fall back to queue 0 with a warning), as <c>VifHashConfig.MapQueue</c> says.
    /// </summary>
    public int QueueOf(uint hash, int queueCount) =>
        Size == 0 ? (int)(hash % (uint)queueCount) : (int)(Mapping[(int)(hash % (uint)Size)] % (uint)queueCount);
}
