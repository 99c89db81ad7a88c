namespace Backend.Xen.Abi;

/// <summary>NETRXF_* (xen/io/netif.h). The two low bits are swapped relative to <see cref="NetTxFlags"/>.</summary>
[Flags]
public enum NetRxFlags : ushort
{
    None = 0,
    DataValidated = 1 << 0,
    CsumBlank = 1 << 1,
    MoreData = 1 << 2,
    ExtraInfo = 1 << 3,
    GsoPrefix = 1 << 4,
}
