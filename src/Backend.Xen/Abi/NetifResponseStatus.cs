namespace Backend.Xen.Abi;

/// <summary>NETIF_RSP_* (xen/io/netif.h).</summary>
public static class NetifResponseStatus
{
    public const short Dropped = -2;
    public const short Error = -1;
    public const short Okay = 0;
    /// <summary>The response to an extra-info slot.</summary>
    public const short Null = 1;
}
