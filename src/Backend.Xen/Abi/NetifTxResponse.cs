using System.Runtime.InteropServices;

namespace Backend.Xen.Abi;

/// <summary><c>struct netif_tx_response</c> (xen/io/netif.h), 4 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 2, Size = 4)]
public struct NetifTxResponse
{
    public ushort Id;
    /// <summary><see cref="NetifResponseStatus"/>.</summary>
    public short Status;
}
