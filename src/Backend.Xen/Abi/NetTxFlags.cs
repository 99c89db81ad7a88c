namespace Backend.Xen.Abi;

/// <summary>NETTXF_* (xen/io/netif.h). The two low bits are swapped relative to <see cref="NetRxFlags"/>.</summary>
[Flags]
public enum NetTxFlags : ushort
{
    None = 0,
    CsumBlank = 1 << 0,
    DataValidated = 1 << 1,
    MoreData = 1 << 2,
    ExtraInfo = 1 << 3,
}
