using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// <c>struct ioctl_gntdev_map_grant_ref</c> with its one-element <c>refs</c> array: we map one page per
/// call (ring pages), which is exactly the header's declared size.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoctlGntdevMapGrantRef
{
    public uint Count;
    public uint Pad;
    /// <summary>Out: the offset to give mmap.</summary>
    public ulong Index;
    public IoctlGntdevGrantRef Ref0;
}
