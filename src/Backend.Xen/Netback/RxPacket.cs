using Backend.Xen.Abi;

namespace Backend.Xen.Netback;

/// <summary>
/// A frame's place on the RX ring (FreeBSD's struct xnb_pkt for the receive side): which slots it
/// takes, the flags of its first response, its extras (GSO, hash, then XDP: Linux's xenvif_rx_extra_slot
/// writes them in the order of their types), the headroom left in each data slot, and which segments of the grant-copy batch carry
/// its data. Built by <see cref="RxSlotPlanner"/>, completed by <see cref="RxCopyPlanner"/>,
/// answered by <see cref="RxResponder"/>.
/// </summary>
public struct RxPacket
{
    /// <summary>
    /// XEN_NETIF_NR_SLOTS_MIN, what netfront accepts (xennet_get_responses). A 65535-byte IP packet behind a
    /// VLAN-tagged Ethernet header needs 17 whole pages, 18 with netfront's XDP headroom (256 bytes); a
    /// frame that needs more (a larger headroom) is refused rather than sent to be dropped by the frontend.
    /// </summary>
    public const int MaxDataSlots = NetifConstants.NrSlotsMin;

    /// <summary>Largest frame: the largest IP packet (GSO included) behind Ethernet and one VLAN tag.</summary>
    public const int MaxFrameLength = 0xFFFF + NetifConstants.EthernetHeaderLength + 4;

    /// <summary>Ring index of the first slot (car).</summary>
    public uint Start;
    /// <summary>Data slots: one per <see cref="SlotRoom"/> bytes of frame.</summary>
    public int DataSlots;
    /// <summary>A GSO extra follows the first data slot (in slot <see cref="Start"/> + 1).</summary>
    public bool HasExtra;
    /// <summary>A hash extra follows the first data slot (after the GSO extra, if any).</summary>
    public bool HasHashExtra;
    /// <summary>An XDP extra follows the first data slot (after the GSO and hash extras, if any).</summary>
    public bool HasXdpExtra;
    /// <summary>The frontend's <c>xdp-headroom</c>: where the data starts in every data slot (Linux's xenvif_rx_data_slot).</summary>
    public ushort Headroom;
    /// <summary>Frame length in bytes.</summary>
    public int Size;
    /// <summary>Flags of the first response when the copy succeeds.</summary>
    public NetRxFlags Flags;
    public byte GsoType;
    public ushort GsoSize;
    /// <summary>The hash extra's value and _XEN_NETIF_CTRL_HASH_TYPE_* number.</summary>
    public uint HashValue;
    public byte HashType;
    /// <summary>Index of this packet's first segment in the grant-copy batch.</summary>
    public int FirstSegment;
    public int SegmentCount;
    public RxRequestIds RequestIds;

    /// <summary>Extra slots, between data slots 0 and 1.</summary>
    public readonly int ExtraSlots => (HasExtra ? 1 : 0) + (HasHashExtra ? 1 : 0) + (HasXdpExtra ? 1 : 0);

    /// <summary>Slots taken on the ring, the extras included.</summary>
    public readonly int Slots => DataSlots + ExtraSlots;

    /// <summary>Bytes of frame a data slot carries: the page after the headroom.</summary>
    public readonly int SlotRoom => NetifConstants.PageSize - Headroom;

    /// <summary>Ring index just past this packet (cdr of the next).</summary>
    public readonly uint End => unchecked(Start + (uint)Slots);

    /// <summary>False for the packet of a refused frame: it takes no slot, no copy, no response.</summary>
    public readonly bool IsValid => DataSlots > 0;

    /// <summary>Ring index of data slot <paramref name="dataSlot"/>: the extras sit between data slots 0 and 1.</summary>
    public readonly uint DataSlotIndex(int dataSlot) =>
        unchecked(Start + (uint)dataSlot + (dataSlot > 0 ? (uint)ExtraSlots : 0u));

    /// <summary>Bytes of frame carried by data slot <paramref name="dataSlot"/>: <see cref="SlotRoom"/> but in the last.</summary>
    public readonly int DataSlotLength(int dataSlot) =>
        Math.Min(SlotRoom, Size - dataSlot * SlotRoom);
}
