namespace Backend.Xen.Platform.Linux;

/// <summary>
/// The gntdev ioctl numbers (xen/gntdev.h): <c>_IOC(_IOC_NONE, 'G', nr, sizeof(struct ...))</c>, so the
/// struct size is part of the number. Checked against the header by a C probe.
/// </summary>
internal static class GntdevIoctl
{
    public const string DevicePath = "/dev/xen/gntdev";

    public const nuint MapGrantRef = (24u << 16) | ('G' << 8) | 0;
    public const nuint UnmapGrantRef = (16u << 16) | ('G' << 8) | 1;
    public const nuint GrantCopy = (16u << 16) | ('G' << 8) | 8;

    /// <summary>What a missing device means, for the error message.</summary>
    public const string MissingHint = "the xen-gntdev driver is not loaded or this is not a Xen domain (modprobe xen-gntdev)";
}
