using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Native;

/// <summary>
/// The libc calls that Tmds.LibC (every other call's binding) does not serve as we need them: readv,
/// writev and malloc_trim, which it lacks, and poll, which it declares without SetLastError, so that an
/// EINTR could not be told from a real failure. Each but malloc_trim sets errno for <see cref="Errno.Last"/>.
/// </summary>
internal static unsafe partial class NativeCalls
{
    private const string Lib = "libc";

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(Lib, EntryPoint = "readv", SetLastError = true)]
    public static partial nint ReadV(int fd, IoVec* vectors, int count);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint WriteV(int fd, IoVec* vectors, int count);

    /// <summary>glibc's malloc_trim (not in musl: the caller expects <see cref="EntryPointNotFoundException"/> there).</summary>
    [LibraryImport(Lib, EntryPoint = "malloc_trim")]
    public static partial int MallocTrim(nuint pad);
}
