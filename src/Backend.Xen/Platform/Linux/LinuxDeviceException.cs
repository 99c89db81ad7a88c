namespace Backend.Xen.Platform.Linux;

/// <summary>
/// A Linux device or system call failed. The message names the path and the operation, and carries the
/// errno in words and as a number, so that the one log line it becomes is enough to act on.
/// </summary>
public sealed class LinuxDeviceException(string path, string operation, int errno, string? hint = null)
    : IOException($"{operation} on {path} failed: {LibC.Describe(errno)}{(hint is null ? "" : "; " + hint)}")
{
    public string Path { get; } = path;
    public string Operation { get; } = operation;
    public int Errno { get; } = errno;
}
