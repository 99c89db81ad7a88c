using Backend.Xen.Platform.Linux;

namespace Backend.Xen.Platform;

/// <summary>
/// Chooses the platform: an explicit choice ("linux" or "sim") wins; otherwise <c>/dev/xen/gntdev</c>
/// present means real Xen, absent means simulated.
/// </summary>
public static class XenPlatformDetector
{
    public const string LinuxChoice = "linux";
    public const string SimulatedChoice = "sim";

    public const string GntdevPath = "/dev/xen/gntdev";

    /// <param name="explicitChoice">"linux", "sim", or null/empty to detect.</param>
    /// <exception cref="ArgumentException">An unknown choice; the message names the allowed ones.</exception>
    /// <exception cref="XenPlatformUnavailableException">"linux" where there is no gntdev.</exception>
    public static XenPlatformKind Detect(string? explicitChoice = null) => Detect(explicitChoice, GntdevPath);

    internal static XenPlatformKind Detect(string? explicitChoice, string gntdevPath)
    {
        if (string.IsNullOrEmpty(explicitChoice))
            return Exists(gntdevPath) ? XenPlatformKind.Linux : XenPlatformKind.Simulated;
        if (string.Equals(explicitChoice, SimulatedChoice, StringComparison.OrdinalIgnoreCase))
            return XenPlatformKind.Simulated;
        if (!string.Equals(explicitChoice, LinuxChoice, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"unknown Xen platform '{explicitChoice}': use '{LinuxChoice}' or '{SimulatedChoice}'", nameof(explicitChoice));
        if (!Exists(gntdevPath))
            throw new XenPlatformUnavailableException(
                $"platform '{LinuxChoice}' needs {gntdevPath}, which does not exist: this is not a Xen domain, or the xen-gntdev driver is not loaded (modprobe xen-gntdev); use '{SimulatedChoice}' to run under SIMXEN");
        return XenPlatformKind.Linux;
    }

    private static bool Exists(string path) => Path.Exists(path);
}
