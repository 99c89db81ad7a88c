using System.Runtime.InteropServices;
using Backend.Xen.Grants;

namespace Backend.Xen.Platform.Linux;

/// <summary><c>struct ioctl_gntdev_grant_copy</c>: a count and a pointer to the segments (xen/gntdev.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoctlGntdevGrantCopy
{
    public uint Count;
    public GrantCopySegment* Segments;
}
