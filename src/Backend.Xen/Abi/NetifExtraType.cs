namespace Backend.Xen.Abi;

/// <summary>XEN_NETIF_EXTRA_TYPE_* (xen/io/netif.h).</summary>
public static class NetifExtraType
{
    /// <summary>Never valid on a ring.</summary>
    public const byte None = 0;
    public const byte Gso = 1;
    public const byte MulticastAdd = 2;
    public const byte MulticastDel = 3;
    public const byte Hash = 4;
    /// <summary>
    /// u.xdp: the headroom left before the data in every RX data slot. Not in Xen 4.17's headers; from the
    /// netif.h change that added XDP headroom (type 5, MAX 6), as Linux's include/xen/interface/io/netif.h.
    /// </summary>
    public const byte Xdp = 5;
    public const byte Max = 6;
}
