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
    public const byte Max = 5;
}
