using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Linux;

/// <summary>An owned file descriptor (a device, an eventfd, a socket) closed exactly once.</summary>
internal sealed class DeviceHandle : SafeHandle
{
    public DeviceHandle(int fd, string path, bool ownsHandle = true) : base(-1, ownsHandle)
    {
        SetHandle(fd);
        Path = path;
    }

    /// <summary>What was opened, for error messages.</summary>
    public string Path { get; }

    public override bool IsInvalid => handle < 0;

    /// <summary>The raw descriptor; callers hold a reference (<see cref="SafeHandle.DangerousAddRef"/>) across system calls that may race with disposal.</summary>
    public int Fd => (int)handle;

    /// <summary>Opens <paramref name="path"/> with O_CLOEXEC added; a failure names the path and the errno.</summary>
    public static DeviceHandle Open(string path, int flags, string? hintWhenMissing = null)
    {
        var fd = LibC.Open(path, flags | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new LinuxDeviceException(path, "open", errno, errno == LibC.ENOENT ? hintWhenMissing : null);
        }
        return new DeviceHandle(fd, path);
    }

    /// <summary>A non-blocking eventfd, used to wake a thread blocked in poll.</summary>
    public static DeviceHandle CreateEventFd()
    {
        var fd = LibC.EventFd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (fd < 0)
            throw new LinuxDeviceException("eventfd", "eventfd", Marshal.GetLastPInvokeError());
        return new DeviceHandle(fd, "eventfd");
    }

    /// <summary>
    /// ioctl(2) on this descriptor, holding a reference so that a concurrent dispose cannot close (and the
    /// kernel reuse) the number mid-call. Returns the call's result; errno is captured before anything
    /// else can overwrite it.
    /// </summary>
    public unsafe int Ioctl(nuint request, void* argument, out int errno)
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            var result = LibC.Ioctl(Fd, request, argument);
            errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
            return result;
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
