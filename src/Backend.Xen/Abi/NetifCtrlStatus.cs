namespace Backend.Xen.Abi;

/// <summary>XEN_NETIF_CTRL_STATUS_*, XEN_NETIF_CTRL_HASH_ALGORITHM_* and XEN_NETIF_CTRL_HASH_TYPE_* (xen/io/netif.h).</summary>
public static class NetifCtrlStatus
{
    public const uint Success = 0;
    public const uint NotSupported = 1;
    public const uint InvalidParameter = 2;
    public const uint BufferOverflow = 3;

    public const uint HashAlgorithmNone = 0;
    public const uint HashAlgorithmToeplitz = 1;

    public const uint HashTypeIpv4 = 1u << 0;
    public const uint HashTypeIpv4Tcp = 1u << 1;
    public const uint HashTypeIpv6 = 1u << 2;
    public const uint HashTypeIpv6Tcp = 1u << 3;
}
