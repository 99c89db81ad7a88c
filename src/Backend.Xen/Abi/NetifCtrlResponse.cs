using System.Runtime.InteropServices;

namespace Backend.Xen.Abi;

/// <summary><c>struct xen_netif_ctrl_response</c> (xen/io/netif.h), 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 12)]
public struct NetifCtrlResponse
{
    public ushort Id;
    public ushort Type;
    /// <summary><see cref="NetifCtrlStatus"/>.</summary>
    public uint Status;
    public uint Data;
}
