using System.Runtime.InteropServices;

namespace Backend.Xen.Abi;

/// <summary><c>struct netif_tx_request</c> (xen/io/netif.h), 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 2, Size = 12)]
public struct NetifTxRequest
{
    public uint Gref;
    public ushort Offset;
    /// <summary><see cref="NetTxFlags"/>.</summary>
    public ushort Flags;
    public ushort Id;
    /// <summary>The first slot's size is the whole packet's; later slots carry their own size.</summary>
    public ushort Size;
}
