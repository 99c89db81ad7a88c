using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Native;

/// <summary><c>struct pollfd</c> (poll.h): the same 8 bytes on every Linux architecture.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short Revents;
}
