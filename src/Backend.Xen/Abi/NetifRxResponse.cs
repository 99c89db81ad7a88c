using System.Runtime.InteropServices;

namespace Backend.Xen.Abi;

/// <summary><c>struct netif_rx_response</c> (xen/io/netif.h), 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 2, Size = 8)]
public struct NetifRxResponse
{
    public ushort Id;
    public ushort Offset;
    /// <summary><see cref="NetRxFlags"/>.</summary>
    public ushort Flags;
    /// <summary>Bytes written when positive, else a <see cref="NetifResponseStatus"/>.</summary>
    public short Status;
}
