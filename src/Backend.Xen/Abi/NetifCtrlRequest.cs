using System.Runtime.InteropServices;

namespace Backend.Xen.Abi;

/// <summary><c>struct xen_netif_ctrl_request</c> (xen/io/netif.h), 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct NetifCtrlRequest
{
    public ushort Id;
    /// <summary><see cref="NetifCtrlType"/>.</summary>
    public ushort Type;
    public uint Data0;
    public uint Data1;
    public uint Data2;
}
