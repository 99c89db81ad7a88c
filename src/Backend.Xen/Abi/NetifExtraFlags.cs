namespace Backend.Xen.Abi;

/// <summary>XEN_NETIF_EXTRA_FLAG_* (xen/io/netif.h).</summary>
public static class NetifExtraFlags
{
    /// <summary>Another extra-info slot follows this one.</summary>
    public const byte More = 1 << 0;
}
