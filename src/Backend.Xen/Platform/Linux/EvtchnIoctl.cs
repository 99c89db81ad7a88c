namespace Backend.Xen.Platform.Linux;

/// <summary>
/// The evtchn ioctl numbers (xen/evtchn.h): <c>_IOC(_IOC_NONE, 'E', nr, sizeof(struct ...))</c>. Each
/// argument struct is one or two <c>unsigned int</c>s, so the calls pass a uint or a
/// <see cref="IoctlEvtchnBindInterdomain"/>. Checked against the header by a C probe.
/// </summary>
internal static class EvtchnIoctl
{
    public const string DevicePath = "/dev/xen/evtchn";

    public const nuint BindInterdomain = (8u << 16) | ('E' << 8) | 1;
    /// <summary>Argument: <c>struct ioctl_evtchn_unbind { unsigned int port; }</c>.</summary>
    public const nuint Unbind = (4u << 16) | ('E' << 8) | 3;
    /// <summary>Argument: <c>struct ioctl_evtchn_notify { unsigned int port; }</c>.</summary>
    public const nuint Notify = (4u << 16) | ('E' << 8) | 4;

    public const string MissingHint = "the xen-evtchn driver is not loaded or this is not a Xen domain (modprobe xen-evtchn)";
}
