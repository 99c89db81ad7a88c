using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Native;

/// <summary><c>struct iovec</c>: lets one readv/writev move the virtio-net header and the frame without a copy.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public void* Base;
    public nuint Length;
}
