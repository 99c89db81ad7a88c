namespace Backend.Xen.Platform.Native;

/// <summary>
/// A Linux system call on a device or a file failed. The message names the path and the operation, and
/// carries the errno in words and as a number, so that the one log line it becomes is enough to act on.
/// </summary>
public sealed class LinuxDeviceException(string path, string operation, int errno, string? hint = null)
    // Qualified: inside this class, Errno is the property.
    : IOException($"{operation} on {path} failed: {Native.Errno.Describe(errno)}{(hint is null ? "" : "; " + hint)}")
{
    public string Path { get; } = path;
    public string Operation { get; } = operation;
    public int Errno { get; } = errno;
}
