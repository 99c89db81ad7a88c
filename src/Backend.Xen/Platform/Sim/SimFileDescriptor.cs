using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Backend.Xen.Platform.Sim;

/// <summary>An owned file descriptor (memory file, notification socket); 0 is a valid descriptor.</summary>
internal sealed class SimFileDescriptor : SafeHandle
{
    public SimFileDescriptor(int fd) : base(new nint(-1), ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    public int Value => (int)handle;

    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;
}
