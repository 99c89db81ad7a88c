using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Linux;

/// <summary><c>struct ioctl_gntdev_unmap_grant_ref</c> (xen/gntdev.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoctlGntdevUnmapGrantRef
{
    public ulong Index;
    public uint Count;
    public uint Pad;
}
