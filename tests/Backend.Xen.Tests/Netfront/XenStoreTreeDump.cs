using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.Netfront;

/// <summary>Every node under a path with its value and permissions, for comparing two trees exactly.</summary>
public static class XenStoreTreeDump
{
    public static async Task<SortedDictionary<string, string>> DumpAsync(IXenStore store, string path)
    {
        var nodes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await WalkAsync(store, path, nodes);
        return nodes;
    }

    private static async Task WalkAsync(IXenStore store, string path, SortedDictionary<string, string> nodes)
    {
        var value = await store.ReadAsync(path);
        var perms = await store.GetPermissionsAsync(path);
        if (perms is null)
            return;
        nodes[path] = $"\"{value}\" [{string.Join(',', perms)}]";
        foreach (var child in await store.DirectoryAsync(path) ?? [])
            await WalkAsync(store, path == "/" ? "/" + child : path + "/" + child, nodes);
    }
}
