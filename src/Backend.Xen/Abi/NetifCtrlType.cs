namespace Backend.Xen.Abi;

/// <summary>XEN_NETIF_CTRL_TYPE_* (xen/io/netif.h).</summary>
public static class NetifCtrlType
{
    public const ushort Invalid = 0;
    public const ushort GetHashFlags = 1;
    public const ushort SetHashFlags = 2;
    public const ushort SetHashKey = 3;
    public const ushort GetHashMappingSize = 4;
    public const ushort SetHashMappingSize = 5;
    public const ushort SetHashMapping = 6;
    public const ushort SetHashAlgorithm = 7;
    public const ushort GetGrefMappingSize = 8;
    public const ushort AddGrefMapping = 9;
    public const ushort DelGrefMapping = 10;
}
