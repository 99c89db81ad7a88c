using System.Runtime.InteropServices;

namespace Backend.Xen.Abi;

/// <summary><c>struct netif_rx_request</c> (xen/io/netif.h), 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 2, Size = 8)]
public struct NetifRxRequest
{
    public ushort Id;
    public ushort Pad;
    public uint Gref;
}
