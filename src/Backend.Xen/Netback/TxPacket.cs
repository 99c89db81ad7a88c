using System.Runtime.InteropServices;
using Backend.Xen.Abi;

namespace Backend.Xen.Netback;

/// <summary>
/// One TX packet as parsed from the ring (FreeBSD's struct xnb_pkt): where it starts, how many ring slots
/// it spans, and its validated metadata. Its data slots live in the caller's scratch span, slot 0 first;
/// extras are not kept as slots but as the last extra of each type (as Linux's xenvif_get_extras).
/// A plain value: copying it copies no shared memory.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct TxPacket
{
    /// <summary>offsetof(struct netif_extra_info, u.mcast.addr).</summary>
    internal const int MulticastAddressOffset = 2;

    /// <summary>sizeof(u.mcast.addr).</summary>
    internal const int MulticastAddressLength = 6;

    internal TxPacket(
        TxOutcome outcome,
        TxFault fault,
        TxError error,
        uint start,
        int extraCount,
        int dataSlots,
        ushort totalLength,
        int firstLength,
        NetTxFlags flags,
        in NetifExtraInfo gso,
        in NetifExtraInfo multicastAdd,
        in NetifExtraInfo multicastDel,
        in NetifExtraInfo hash)
    {
        Outcome = outcome;
        Fault = fault;
        Error = error;
        Start = start;
        ExtraCount = extraCount;
        DataSlots = dataSlots;
        TotalLength = totalLength;
        FirstLength = firstLength;
        Flags = flags;
        Gso = gso;
        MulticastAdd = multicastAdd;
        MulticastDel = multicastDel;
        Hash = hash;
    }

    public TxOutcome Outcome { get; }

    /// <summary>Set when <see cref="Outcome"/> is <see cref="TxOutcome.Fatal"/>.</summary>
    public TxFault Fault { get; }

    /// <summary>Set when <see cref="Outcome"/> is <see cref="TxOutcome.Error"/>.</summary>
    public TxError Error { get; }

    /// <summary>Ring index of the packet's first slot (req_cons when it was parsed).</summary>
    public uint Start { get; }

    /// <summary>Extra-info slots after the first slot; each is answered NULL.</summary>
    public int ExtraCount { get; }

    /// <summary>Data slots (the first included) held in the caller's scratch span; each is answered with the packet's status.</summary>
    public int DataSlots { get; }

    /// <summary>Ring slots the packet consumes: its data slots and its extras. 0 unless the packet is to be consumed.</summary>
    public int RingSlots =>
        Outcome is TxOutcome.Packet or TxOutcome.Error or TxOutcome.MulticastControl ? DataSlots + ExtraCount : 0;

    /// <summary>The whole frame's length, as the first slot announced.</summary>
    public ushort TotalLength { get; }

    /// <summary>The first slot's own share: <see cref="TotalLength"/> minus the later slots' sizes.</summary>
    public int FirstLength { get; }

    /// <summary>The first slot's NETTXF_* flags.</summary>
    public NetTxFlags Flags { get; }

    /// <summary>NETTXF_csum_blank: the frame's L4 checksum is to be filled in (CHECKSUM_PARTIAL).</summary>
    public bool ChecksumBlank => (Flags & NetTxFlags.CsumBlank) != 0;

    /// <summary>NETTXF_data_validated: the frontend vouches for the checksums (CHECKSUM_UNNECESSARY).</summary>
    public bool DataValidated => (Flags & NetTxFlags.DataValidated) != 0;

    /// <summary>The last GSO extra of the packet; <c>Type</c> is 0 when there is none.</summary>
    public NetifExtraInfo Gso { get; }

    public bool HasGso => Gso.Type == NetifExtraType.Gso;

    /// <summary>XEN_NETIF_GSO_TYPE_*, or NONE without a GSO extra.</summary>
    public byte GsoType => HasGso ? Gso.GsoType : NetifGsoType.None;

    /// <summary>The GSO segment size (MSS), or 0 without a GSO extra.</summary>
    public ushort GsoSize => HasGso ? Gso.GsoSize : (ushort)0;

    /// <summary>Linux's MAX_SKB_FRAGS with 4 KiB pages (and CONFIG_MAX_SKB_FRAGS' default).</summary>
    public const int LinuxMaxSkbFrags = 17;

    /// <summary>
    /// Linux netback's checksum_setup: "A GSO SKB must be CHECKSUM_PARTIAL", so a GSO frame without
    /// csum_blank is fixed up; its ethtool counter rx_gso_checksum_fixup counts these.
    /// </summary>
    public bool NeedsGsoChecksumFixup => HasGso && !ChecksumBlank;

    /// <summary>
    /// Linux's xenvif_tx_build_gops: more slots after the first than an skb has frags (frag_overflow), which
    /// Linux copies into a frag list; its ethtool counter tx_frag_overflow counts these.
    /// </summary>
    public bool OverflowsSkbFrags => DataSlots - 1 > LinuxMaxSkbFrags;

    /// <summary>The last multicast-add extra; <c>Type</c> is 0 when there is none.</summary>
    public NetifExtraInfo MulticastAdd { get; }

    public bool HasMulticastAdd => MulticastAdd.Type == NetifExtraType.MulticastAdd;

    /// <summary>The last multicast-delete extra; <c>Type</c> is 0 when there is none.</summary>
    public NetifExtraInfo MulticastDel { get; }

    public bool HasMulticastDel => MulticastDel.Type == NetifExtraType.MulticastDel;

    /// <summary>The last hash extra; <c>Type</c> is 0 when there is none.</summary>
    public NetifExtraInfo Hash { get; }

    public bool HasHash => Hash.Type == NetifExtraType.Hash;

    /// <summary>Copies the 6-byte MAC address of a multicast extra (u.mcast.addr) into <paramref name="destination"/>.</summary>
    public static void CopyMulticastAddress(in NetifExtraInfo extra, Span<byte> destination)
    {
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<NetifExtraInfo>(in extra));
        bytes.Slice(MulticastAddressOffset, MulticastAddressLength).CopyTo(destination);
    }

    internal static TxPacket Empty(uint start) => new(TxOutcome.Empty, TxFault.None, TxError.None, start, 0, 0, 0, 0, NetTxFlags.None, default, default, default, default);

    internal static TxPacket Partial(uint start) => new(TxOutcome.Partial, TxFault.None, TxError.None, start, 0, 0, 0, 0, NetTxFlags.None, default, default, default, default);

    internal static TxPacket Fatal(uint start, TxFault fault) => new(TxOutcome.Fatal, fault, TxError.None, start, 0, 0, 0, 0, NetTxFlags.None, default, default, default, default);
}
