using Backend.Xen.Platform.Linux;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Actors.HostNetwork;

/// <summary>
/// At start under <c>--switch tap</c>: deletes the persistent TAPs this backend domain left for vifs that
/// no backend directory claims any more (their vif went while the daemon was down). A device is only
/// touched when its alias says it is ours, for this backend domain and on this host (under SIMXEN, this
/// sim root: another simulated host's xenstore is not ours to ask).
/// </summary>
internal static class StaleTapSweeper
{
    /// <summary>Returns the names deleted, and the reasons a stale device could not be deleted.</summary>
    public static async Task<(List<string> Deleted, List<string> Failures)> SweepAsync(IXenStore xenStore, ushort backendDomId, string? host, string sysfsNet = "/sys/class/net")
    {
        var deleted = new List<string>();
        var failures = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories(sysfsNet))
        {
            var name = Path.GetFileName(directory);
            string? alias;
            try
            {
                // tun_flags exists for tun/tap devices only: anything else is not ours to judge.
                if (!File.Exists(Path.Combine(directory, "tun_flags")))
                    continue;
                alias = File.ReadAllText(Path.Combine(directory, "ifalias"));
            }
            catch (IOException)
            {
                continue; // gone while we looked
            }
            if (!VifTap.TryParseAlias(alias, out var owner, out var vif, out var aliasHost) || owner != backendDomId || aliasHost != host)
                continue;
            if (await xenStore.DirectoryAsync(new VifPaths(backendDomId, vif).BackendDir) is not null)
                continue;
            try
            {
                TapDevice.Delete(name);
                deleted.Add(name);
            }
            catch (Exception ex) when (ex is IOException or ArgumentException)
            {
                failures.Add($"{name}: {ex.Message}");
            }
        }
        return (deleted, failures);
    }
}
