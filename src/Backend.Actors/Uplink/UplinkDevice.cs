using Backend.Xen.Platform.Linux;

namespace Backend.Actors.Uplink;

/// <summary>Opens and prepares an uplink's TAP, before the actor that serves it starts.</summary>
public static class UplinkDevice
{
    /// <summary>
    /// Creates the TAP (or re-opens the persistent one an earlier run left), makes it persistent so that
    /// the host's addresses and bridge membership on it survive a daemon restart, marks it as ours,
    /// offers the stack checksum offload and TSO (the RX path completes or segments for a guest that did
    /// not negotiate them), brings it up and, if asked, makes it a port of the Linux bridge.
    /// </summary>
    /// <exception cref="IOException">The device cannot be created or set up; the message says which step.</exception>
    public static TapDevice Open(UplinkSpec spec)
    {
        var tap = TapDevice.Open(spec.TapName);
        try
        {
            tap.SetPersistent(true);
            tap.SetOffload(TunIoctl.TUN_F_CSUM | TunIoctl.TUN_F_TSO4 | TunIoctl.TUN_F_TSO6);
            tap.SetAlias(Alias(spec));
            if (spec.LinuxBridge is { } linuxBridge)
                tap.AttachToBridge(linuxBridge);
            tap.SetUp(true);
            return tap;
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    /// <summary>The interface alias (after <see cref="TapDevice.AliasPrefix"/>) of an uplink's TAP.</summary>
    public static string Alias(UplinkSpec spec) => $"uplink {spec.Bridge}";
}
