using Backend.Xen.Abi;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// How one frame goes on the TX ring: its checksum flags, an optional GSO extra, an optional hash extra
/// (after the GSO extra, as Windows PV drivers send the hash of a frame they hashed), and the largest data
/// slot to cut it into (4096 by default; smaller values make longer chains, as fragmented skbs do).
/// </summary>
public readonly record struct SimTxOptions
{
    /// <summary>NETTXF_csum_blank: the checksum is to be filled in by whoever delivers the frame.</summary>
    public bool CsumBlank { get; init; }

    /// <summary>NETTXF_data_validated: the checksum is known good.</summary>
    public bool DataValidated { get; init; }

    /// <summary><see cref="NetifGsoType"/>; <see cref="NetifGsoType.None"/> for no GSO extra.</summary>
    public byte GsoType { get; init; }

    public ushort GsoSize { get; init; }

    /// <summary>Send a XEN_NETIF_EXTRA_TYPE_HASH extra with <see cref="HashType"/> and <see cref="HashValue"/> (algorithm Toeplitz).</summary>
    public bool HasHash { get; init; }

    /// <summary>The hash extra's _XEN_NETIF_CTRL_HASH_TYPE_* number.</summary>
    public byte HashType { get; init; }

    public uint HashValue { get; init; }

    /// <summary>
    /// More frames follow at once (Linux netfront's <c>netdev_xmit_more()</c>): the requests are written
    /// but req_prod is not published and the backend not notified until a frame sent without it, or a send
    /// that finds the ring full (the room it waits for comes only from answers to the held frames). A burst
    /// sent so reaches the backend in one pass, as a guest's queue flush does.
    /// </summary>
    public bool More { get; init; }

    /// <summary>Bytes per data slot, 1..4096; 0 means 4096.</summary>
    public int MaxSlotBytes { get; init; }

    internal int SlotBytes => MaxSlotBytes == 0 ? NetifConstants.PageSize : MaxSlotBytes;
}
