using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Linux;

/// <summary><c>struct ioctl_gntdev_grant_ref</c> (xen/gntdev.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoctlGntdevGrantRef
{
    public uint DomId;
    public uint Ref;
}
