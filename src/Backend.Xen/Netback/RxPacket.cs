using Backend.Xen.Abi;

namespace Backend.Xen.Netback;

/// <summary>
/// A frame's place on the RX ring (FreeBSD's struct xnb_pkt for the receive side): which slots it
/// takes, the flags of its first response, its GSO extra, and which segments of the grant-copy batch
/// carry its data. Built by <see cref="RxSlotPlanner"/>, completed by <see cref="RxCopyPlanner"/>,
/// answered by <see cref="RxResponder"/>.
/// </summary>
public struct RxPacket
{
    /// <summary>
    /// A 65535-byte IP packet behind a VLAN-tagged Ethernet header needs 17 pages; netfront accepts
    /// XEN_NETIF_NR_SLOTS_MIN (18) data slots, so this never exceeds what a frontend takes.
    /// </summary>
    public const int MaxDataSlots = 17;

    /// <summary>Largest frame: the largest IP packet (GSO included) behind Ethernet and one VLAN tag.</summary>
    public const int MaxFrameLength = 0xFFFF + NetifConstants.EthernetHeaderLength + 4;

    /// <summary>Ring index of the first slot (car).</summary>
    public uint Start;
    /// <summary>Data slots: one per 4096 bytes of frame.</summary>
    public int DataSlots;
    /// <summary>A GSO extra follows the first data slot (in slot <see cref="Start"/> + 1).</summary>
    public bool HasExtra;
    /// <summary>Frame length in bytes.</summary>
    public int Size;
    /// <summary>Flags of the first response when the copy succeeds.</summary>
    public NetRxFlags Flags;
    public byte GsoType;
    public ushort GsoSize;
    /// <summary>Index of this packet's first segment in the grant-copy batch.</summary>
    public int FirstSegment;
    public int SegmentCount;
    public RxRequestIds RequestIds;

    /// <summary>Slots taken on the ring, the GSO extra included.</summary>
    public readonly int Slots => DataSlots + (HasExtra ? 1 : 0);

    /// <summary>Ring index just past this packet (cdr of the next).</summary>
    public readonly uint End => unchecked(Start + (uint)Slots);

    /// <summary>False for the packet of a refused frame: it takes no slot, no copy, no response.</summary>
    public readonly bool IsValid => DataSlots > 0;

    /// <summary>Ring index of data slot <paramref name="dataSlot"/>: the extra sits between data slots 0 and 1.</summary>
    public readonly uint DataSlotIndex(int dataSlot) =>
        unchecked(Start + (uint)dataSlot + (HasExtra && dataSlot > 0 ? 1u : 0u));

    /// <summary>Bytes carried by data slot <paramref name="dataSlot"/>: a whole page but in the last.</summary>
    public readonly int DataSlotLength(int dataSlot) =>
        Math.Min(NetifConstants.PageSize, Size - dataSlot * NetifConstants.PageSize);
}
