namespace Backend.Xen.Abi;

/// <summary>Sizes and limits of the netif protocol (xen/io/netif.h, xen/io/ring.h).</summary>
public static class NetifConstants
{
    public const int PageSize = 4096;

    /// <summary>XEN_NETIF_NR_SLOTS_MIN: a backend accepts at least this many slots after the first.</summary>
    public const int NrSlotsMin = 18;

    /// <summary>XEN_NETIF_MAX_TX_SIZE: the largest packet a TX request chain may describe.</summary>
    public const int MaxTxSize = 0xFFFF;

    /// <summary>__CONST_RING_SIZE(netif_tx, 4096).</summary>
    public const int TxRingSize = 256;

    /// <summary>__CONST_RING_SIZE(netif_rx, 4096).</summary>
    public const int RxRingSize = 256;

    /// <summary>__CONST_RING_SIZE(xen_netif_ctrl, 4096).</summary>
    public const int CtrlRingSize = 128;

    /// <summary>
    /// XEN_NETIF_MAX_XDP_HEADROOM: the largest <c>xdp-headroom</c> a backend takes (Linux netback clamps a
    /// larger one to it).
    /// </summary>
    public const ushort MaxXdpHeadroom = 0x7FFF;

    /// <summary>Ethernet header length: the smallest frame a TX chain may carry in its first slot.</summary>
    public const int EthernetHeaderLength = 14;
}
