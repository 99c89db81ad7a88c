using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Native;

/// <summary>
/// The errno values the platforms tell apart, as constants so that they can be matched in patterns
/// (Tmds.LibC has them as properties); the same numbers on x86-64 and arm64 (asm-generic/errno-base.h,
/// errno.h), and checked against the headers by the ABI test. <see cref="Last"/> is the errno of the last
/// P/Invoke declared with SetLastError (Tmds.LibC's and ours are).
/// </summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int EFBIG = 27;
    public const int EOPNOTSUPP = 95;

    public static int Last => Marshal.GetLastPInvokeError();

    /// <summary>"No such file or directory (errno 2)": the text and the number, for messages a person acts on.</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
