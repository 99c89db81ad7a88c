namespace Backend.Xen.Platform.Linux;

/// <summary>
/// Whether the kernel's own netback (<c>xen-netback</c>) is loaded. It claims every vif in xenstore and
/// binds their event channels first, so ours would fail with EINVAL: the daemon must refuse to start
/// while it is loaded.
/// </summary>
public static class KernelNetbackCheck
{
    public const string ModuleDirectory = "/sys/module/xen_netback";

    /// <summary>The one line the daemon prints when it refuses to start.</summary>
    public const string Reason =
        "the kernel's xen-netback module is loaded and claims every vif (our event channel binds would fail with EINVAL): unload it with 'rmmod xen-netback' (and blacklist it) before starting xnb";

    public static bool IsLoaded(string moduleDirectory = ModuleDirectory) => Directory.Exists(moduleDirectory);

    /// <summary><see cref="Reason"/> when the daemon must refuse to start, null when it may start.</summary>
    public static string? RefusalReason(string moduleDirectory = ModuleDirectory) =>
        IsLoaded(moduleDirectory) ? Reason : null;
}
