using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Linux;

/// <summary><c>struct ioctl_evtchn_bind_interdomain</c> (xen/evtchn.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoctlEvtchnBindInterdomain
{
    public uint RemoteDomain;
    public uint RemotePort;
}
