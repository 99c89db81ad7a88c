using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Backend.Xen.Platform.Native;

/// <summary>
/// An owned file descriptor (a Xen device, a TAP, an eventfd, a socket, a SIMXEN file) closed exactly once,
/// and the calls made on it. A call that may race with a dispose holds a reference across it, so that the
/// number cannot be closed (and reused by the kernel for another file) mid-call. Failures name
/// <see cref="Path"/>, the call and the errno (<see cref="LinuxDeviceException"/>).
/// </summary>
internal sealed unsafe class FileDescriptor : SafeHandle
{
    /// <summary>The mode of a file made with O_CREAT: the owner's only (SIMXEN's files).</summary>
    private const int CreateMode = 0x180; // 0600

    /// <param name="ownsHandle">False for a descriptor someone else closes (a test's pipe).</param>
    public FileDescriptor(int fd, string path, bool ownsHandle = true) : base(-1, ownsHandle)
    {
        SetHandle(fd);
        Path = path;
    }

    /// <summary>What was opened, for error messages.</summary>
    public string Path { get; }

    public override bool IsInvalid => handle < 0;

    /// <summary>The raw descriptor; a caller that may race with a dispose holds a reference (<see cref="SafeHandle.DangerousAddRef"/>).</summary>
    public int Fd => (int)handle;

    /// <summary>Opens <paramref name="path"/> with O_CLOEXEC added; a failure names the path and the errno.</summary>
    /// <param name="hintWhenMissing">Added to the message when the path does not exist (ENOENT).</param>
    public static FileDescriptor Open(string path, int flags, string? hintWhenMissing = null) =>
        TryOpen(path, flags, out var errno) ?? throw new LinuxDeviceException(path, "open", errno, errno == Errno.ENOENT ? hintWhenMissing : null);

    /// <summary>Opens <paramref name="path"/> (O_CLOEXEC added; mode 0600 with O_CREAT); null when it does not exist.</summary>
    public static FileDescriptor? OpenIfExists(string path, int flags) =>
        TryOpen(path, flags, out var errno) ?? (errno == Errno.ENOENT ? null : throw new LinuxDeviceException(path, "open", errno));

    /// <summary>A non-blocking eventfd, used to wake a thread blocked in poll.</summary>
    public static FileDescriptor EventFd()
    {
        var fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            throw new LinuxDeviceException("eventfd", "eventfd", Errno.Last);
        return new FileDescriptor(fd, "eventfd");
    }

    /// <summary>A socket (SOCK_CLOEXEC added) that <paramref name="what"/> names in error messages.</summary>
    public static FileDescriptor Socket(int domain, int type, string what)
    {
        var fd = socket(domain, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
            throw new LinuxDeviceException(what, "socket", Errno.Last);
        return new FileDescriptor(fd, what);
    }

    /// <summary>
    /// ioctl(2), holding a reference. Returns the call's result; errno is captured before anything else
    /// can overwrite it.
    /// </summary>
    public int Ioctl(nuint request, void* argument, out int errno)
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            // The kernel takes the request as an unsigned int; Tmds.LibC as an int.
            var result = ioctl(Fd, unchecked((int)(uint)request), argument);
            errno = result < 0 ? Errno.Last : 0;
            return result;
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <summary>The identity (device, inode) and size of the open file.</summary>
    public FileIdentity Stat()
    {
        stat st;
        if (fstat(Fd, &st) != 0)
            throw new LinuxDeviceException(Path, "fstat", Errno.Last);
        return new FileIdentity((ulong)st.st_dev, (ulong)st.st_ino, (long)st.st_size);
    }

    public void Truncate(long length)
    {
        if (ftruncate(Fd, length) != 0)
            throw new LinuxDeviceException(Path, "ftruncate", Errno.Last);
    }

    /// <summary>
    /// Maps <paramref name="length"/> bytes from <paramref name="offset"/> MAP_SHARED, read-write or
    /// read-only. The mapping outlives the descriptor; <see cref="Unmap"/> ends it.
    /// </summary>
    public byte* Map(nuint length, long offset, bool writable)
    {
        var address = mmap(null, (size_t)length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, Fd, offset);
        if (address == MAP_FAILED)
            throw new LinuxDeviceException(Path, "mmap", Errno.Last);
        return (byte*)address;
    }

    /// <summary>Ends a mapping <see cref="Map"/> made.</summary>
    public static void Unmap(void* address, nuint length) => munmap(address, (size_t)length);

    /// <summary>Sends one datagram without blocking, holding a reference; false when it was not sent (full queue, nobody bound).</summary>
    public bool TrySendTo(ReadOnlySpan<byte> datagram, in sockaddr_un address)
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            fixed (byte* d = datagram)
            fixed (sockaddr_un* a = &address)
                return sendto(Fd, d, datagram.Length, MSG_DONTWAIT | MSG_NOSIGNAL, (sockaddr*)a, (uint)sizeof(sockaddr_un)) == datagram.Length;
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    protected override bool ReleaseHandle() => close((int)handle) == 0;

    private static FileDescriptor? TryOpen(string path, int flags, out int errno)
    {
        int fd;
        fixed (byte* p = FilePath.ToBytes(path))
            fd = open(p, flags | O_CLOEXEC, CreateMode);
        errno = fd < 0 ? Errno.Last : 0;
        return fd < 0 ? null : new FileDescriptor(fd, path);
    }
}
