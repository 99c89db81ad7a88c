using System.Globalization;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Xenbus;

namespace Backend.Actors.HostNetwork;

/// <summary>
/// A vif's own host device under <c>--switch tap</c>: a persistent TAP named as kernel netback names its
/// vifs (<c>vif&lt;domid&gt;.&lt;handle&gt;</c>), created before the backend goes InitWait so that the
/// toolstack's <c>vif-bridge</c> script finds it, and marked with an alias naming the backend domain and
/// the vif, so that a later run can tell its own devices from anyone else's. Under SIMXEN the alias also
/// names the sim root (the "host" the vif is on, <see cref="BackendServices.TapHost"/>): several
/// simulated hosts share one kernel (test runs in parallel, a demo beside them), each with its own
/// xenstore and the same backend domain, and one's sweep must not take another's live TAPs for stale.
/// </summary>
public sealed class VifTap
{
    private VifTap(TapDevice device) => Device = device;

    public TapDevice Device { get; }

    public TapPortCounters Counters { get; } = new();

    /// <summary>The alias (after <see cref="TapDevice.AliasPrefix"/>) that marks backend <paramref name="backendDomId"/>'s device for <paramref name="vif"/>.</summary>
    /// <param name="host">The simulated host (its sim root) the vif is on; null on real Xen, whose aliases carry none.</param>
    public static string Alias(ushort backendDomId, VifId vif, string? host = null) =>
        host is null
            ? string.Create(CultureInfo.InvariantCulture, $"dom{backendDomId} vif {vif.DomId}.{vif.Handle}")
            : string.Create(CultureInfo.InvariantCulture, $"dom{backendDomId} vif {vif.DomId}.{vif.Handle}{HostSeparator}{host}");

    private const string HostSeparator = " on ";

    /// <summary>Reads an interface alias written by <see cref="Alias"/> (prefix included); false for anything else.</summary>
    public static bool TryParseAlias(string? alias, out ushort backendDomId, out VifId vif) =>
        TryParseAlias(alias, out backendDomId, out vif, out _);

    /// <summary>Reads an interface alias written by <see cref="Alias"/> (prefix included), with its host (null for none); false for anything else.</summary>
    public static bool TryParseAlias(string? alias, out ushort backendDomId, out VifId vif, out string? host)
    {
        backendDomId = 0;
        vif = default;
        host = null;
        if (alias is null || !alias.StartsWith(TapDevice.AliasPrefix + "dom", StringComparison.Ordinal))
            return false;
        var rest = alias.AsSpan((TapDevice.AliasPrefix + "dom").Length).TrimEnd('\n');
        var space = rest.IndexOf(" vif ", StringComparison.Ordinal);
        if (space < 0 || !ushort.TryParse(rest[..space], NumberStyles.None, CultureInfo.InvariantCulture, out backendDomId))
            return false;
        var id = rest[(space + 5)..];
        var on = id.IndexOf(HostSeparator, StringComparison.Ordinal);
        if (on >= 0)
        {
            if (on + HostSeparator.Length == id.Length)
                return false;
            host = id[(on + HostSeparator.Length)..].ToString();
            id = id[..on];
        }
        var dot = id.IndexOf('.');
        if (dot < 0
            || !ushort.TryParse(id[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out var domid)
            || !uint.TryParse(id[(dot + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var handle))
            return false;
        vif = new VifId(domid, handle);
        return true;
    }

    /// <summary>
    /// Opens the vif's device by its current name: <paramref name="vifname"/> (the backend's <c>vifname</c>
    /// key, which vif-bridge renames the device to) when a device of ours has it, else
    /// <c>vif&lt;domid&gt;.&lt;handle&gt;</c>, creating it when it is not there. Makes it persistent and marks it.
    /// </summary>
    /// <exception cref="IOException">The device cannot be created (no tun driver, a non-TAP device of that name).</exception>
    public static VifTap Open(ushort backendDomId, VifId vif, string? vifname, string? host)
    {
        var name = TapDevice.VifName(vif.DomId, vif.Handle);
        if (vifname is not null && Uplink.UplinkSpec.InterfaceNameProblem(vifname) is null && IsOurDevice(vifname, backendDomId, vif, host))
            name = vifname;
        var device = TapDevice.Open(name);
        try
        {
            device.SetPersistent(true);
            device.SetAlias(Alias(backendDomId, vif, host));
            return new VifTap(device);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>TUNSETOFFLOAD: the stack may hand us what the frontend negotiated, and segments or completes the rest itself.</summary>
    public void SetOffload(FrontendConfig frontend)
    {
        uint flags = 0;
        if (frontend.Ipv4ChecksumOffload)
        {
            // TSO needs TUN_F_CSUM in the kernel's eyes; a GSO frontend without checksum offload gets neither.
            flags = TunIoctl.TUN_F_CSUM;
            if (frontend.GsoTcpV4)
                flags |= TunIoctl.TUN_F_TSO4;
            if (frontend.GsoTcpV6)
                flags |= TunIoctl.TUN_F_TSO6;
        }
        Device.SetOffload(flags);
    }

    /// <summary>Closes our descriptor; with <paramref name="delete"/> the device goes too, else it stays for the next run.</summary>
    public void Close(bool delete)
    {
        if (delete)
            Device.Delete();
        else
            Device.Dispose();
    }

    private static bool IsOurDevice(string name, ushort backendDomId, VifId vif, string? host)
    {
        try
        {
            var path = Path.Combine("/sys/class/net", name, "ifalias");
            return File.Exists(path) && TryParseAlias(File.ReadAllText(path), out var b, out var v, out var h) && b == backendDomId && v == vif && h == host;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
