namespace Backend.Xen.Abi;

/// <summary>XEN_NETIF_GSO_TYPE_* (xen/io/netif.h).</summary>
public static class NetifGsoType
{
    public const byte None = 0;
    public const byte TcpV4 = 1;
    public const byte TcpV6 = 2;
}
