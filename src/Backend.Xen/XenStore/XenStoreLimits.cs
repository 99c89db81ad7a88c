namespace Backend.Xen.XenStore;

/// <summary>The limits of xs_wire.h.</summary>
public static class XenStoreLimits
{
    /// <summary>XENSTORE_PAYLOAD_MAX: the largest payload of one message, either way.</summary>
    public const int PayloadMax = 4096;

    /// <summary>XENSTORE_ABS_PATH_MAX.</summary>
    public const int AbsolutePathMax = 3072;

    /// <summary>XENSTORE_REL_PATH_MAX.</summary>
    public const int RelativePathMax = 2048;
}
