using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// The few libc calls the Linux platform needs, declared directly: ioctl with a pointer argument, poll,
/// eventfd, mmap. Every call sets errno for <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
/// <remarks>
/// glibc's <c>ioctl</c> is variadic; declaring it with a fixed pointer third argument is what every
/// binding does (Tmds.LibC included) and matches the x86-64 and aarch64 Linux calling conventions for
/// integer arguments.
/// </remarks>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int O_RDONLY = 0x0;
    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x1;
    public static readonly nint MAP_FAILED = -1;

    public const short POLLIN = 0x1;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    public const int AF_INET = 2;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_CLOEXEC = 0x80000;

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int EOPNOTSUPP = 95;
    public const int EFBIG = 27;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "readv", SetLastError = true)]
    public static partial nint ReadV(int fd, IoVec* vectors, int count);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint WriteV(int fd, IoVec* vectors, int count);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    /// <summary>"No such file or directory (ENOENT 2)": the text and the number, for messages a person acts on.</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
