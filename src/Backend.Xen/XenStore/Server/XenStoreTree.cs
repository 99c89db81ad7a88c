using System.Collections.Immutable;

namespace Backend.Xen.XenStore.Server;

/// <summary>
/// The xenstore tree and its transactions, without any I/O: every operation takes validated arguments and
/// returns an error name (null on success), appending what fires watches to a list. Not thread-safe: the
/// server calls it under one lock. Permissions are stored and returned, never enforced (SIMXEN: every
/// socket client is privileged).
/// </summary>
internal sealed class XenStoreTree
{
    private static readonly ImmutableArray<string> RootPermissions = ["n0"];

    private readonly Dictionary<string, XenStoreNode> nodes = new(StringComparer.Ordinal);
    private long generation;

    public XenStoreTree() => nodes["/"] = new XenStoreNode([], RootPermissions, [], 0);

    public int NodeCount => nodes.Count;

    /// <summary>The node as <paramref name="transaction"/> sees it (the committed tree when null).</summary>
    public XenStoreNode? Get(string path, XenStoreTreeTransaction? transaction)
    {
        if (transaction is null)
            return nodes.GetValueOrDefault(path);
        // Looked at by a request (or written): any change to it since is a conflict.
        transaction.ParentsOnly.Remove(path);
        return GetQuietly(path, transaction);
    }

    /// <summary>
    /// The parent of a node being created or removed, as <paramref name="transaction"/> sees it: the
    /// transaction depends on its existence, not on its other children (see <see cref="Commit"/>).
    /// </summary>
    private XenStoreNode? GetParent(string path, XenStoreTreeTransaction? transaction)
    {
        if (transaction is null)
            return nodes.GetValueOrDefault(path);
        var firstLook = !transaction.Overlay.ContainsKey(path) && !transaction.Observed.ContainsKey(path);
        var node = GetQuietly(path, transaction);
        if (firstLook && node is not null)
            transaction.ParentsOnly[path] = node;
        return node;
    }

    private XenStoreNode? GetQuietly(string path, XenStoreTreeTransaction transaction)
    {
        if (transaction.Overlay.TryGetValue(path, out var own))
            return own;
        var committed = nodes.GetValueOrDefault(path);
        transaction.Observed.TryAdd(path, committed?.Generation ?? -1);
        return committed;
    }

    public string? Read(string path, XenStoreTreeTransaction? transaction, out byte[] value)
    {
        var node = Get(path, transaction);
        value = node?.Value ?? [];
        return node is null ? XenStoreErrors.ENOENT : null;
    }

    public string? Write(string path, byte[] value, XenStoreTreeTransaction? transaction, List<XenStoreChange> changes)
    {
        if (path == "/")
            return XenStoreErrors.EINVAL;
        var node = Get(path, transaction);
        if (node is null)
            Create(path, value, transaction);
        else
            Put(path, node with { Value = value }, transaction);
        Record(new XenStoreChange(path, Removed: false), transaction, changes);
        return null;
    }

    /// <summary>Creates the node (and missing parents) with an empty value; an existing node is left alone, as xenstored.</summary>
    public string? Mkdir(string path, XenStoreTreeTransaction? transaction, List<XenStoreChange> changes)
    {
        if (Get(path, transaction) is not null)
            return null;
        Create(path, [], transaction);
        Record(new XenStoreChange(path, Removed: false), transaction, changes);
        return null;
    }

    /// <summary>Removes a subtree. A missing node is fine when its parent exists (as xenstored), else ENOENT.</summary>
    public string? Remove(string path, XenStoreTreeTransaction? transaction, List<XenStoreChange> changes)
    {
        if (path == "/")
            return XenStoreErrors.EINVAL;
        var node = Get(path, transaction);
        var parentPath = XenStorePath.Parent(path);
        var parent = GetParent(parentPath, transaction);
        if (node is null)
            return parent is null ? XenStoreErrors.ENOENT : null;
        RemoveSubtree(path, node, transaction);
        if (parent is not null)
            Put(parentPath, parent with { Children = parent.Children.Remove(XenStorePath.Name(path)) }, transaction);
        Record(new XenStoreChange(path, Removed: true), transaction, changes);
        return null;
    }

    public string? Directory(string path, XenStoreTreeTransaction? transaction, out ImmutableList<string> children)
    {
        var node = Get(path, transaction);
        children = node?.Children ?? [];
        return node is null ? XenStoreErrors.ENOENT : null;
    }

    public string? GetPermissions(string path, XenStoreTreeTransaction? transaction, out ImmutableArray<string> permissions)
    {
        var node = Get(path, transaction);
        permissions = node?.Permissions ?? [];
        return node is null ? XenStoreErrors.ENOENT : null;
    }

    /// <param name="permissions">Already validated, at least one.</param>
    public string? SetPermissions(string path, ImmutableArray<string> permissions, XenStoreTreeTransaction? transaction, List<XenStoreChange> changes)
    {
        var node = Get(path, transaction);
        if (node is null)
            return XenStoreErrors.ENOENT;
        Put(path, node with { Permissions = permissions }, transaction);
        Record(new XenStoreChange(path, Removed: false), transaction, changes);
        return null;
    }

    /// <summary>
    /// Commits: false (EAGAIN) when any committed node the transaction looked at has changed since;
    /// otherwise applies its overlay and appends its changes to <paramref name="changes"/>.
    /// </summary>
    public bool Commit(XenStoreTreeTransaction transaction, List<XenStoreChange> changes)
    {
        foreach (var (path, seen) in transaction.Observed)
        {
            var now = nodes.GetValueOrDefault(path);
            if ((now?.Generation ?? -1) == seen)
                continue;
            // A parent the transaction only added children to or removed children from may have gained
            // or lost others meanwhile: its edits are applied to the parent as it is now, as oxenstored
            // coalesces concurrent device additions (two guests' vifs created at once under backend/vif
            // do not conflict). It must still exist.
            if (now is null || !transaction.ParentsOnly.ContainsKey(path))
                return false;
        }
        foreach (var (path, node) in transaction.Overlay)
        {
            if (node is not null && transaction.ParentsOnly.TryGetValue(path, out var seen) && nodes.TryGetValue(path, out var now) && now.Generation != seen.Generation)
                Put(path, now with { Children = MergeChildren(now.Children, seen.Children, node.Children) }, null);
            else
                Put(path, node, null);
        }
        changes.AddRange(transaction.Changes);
        return true;
    }

    /// <summary>The committed children with the transaction's additions and removals (against what it first saw).</summary>
    private static ImmutableList<string> MergeChildren(ImmutableList<string> now, ImmutableList<string> seen, ImmutableList<string> mine)
    {
        // Sets, not list searches: backend/vif has a child per guest.
        var mineSet = new HashSet<string>(mine, StringComparer.Ordinal);
        var seenSet = new HashSet<string>(seen, StringComparer.Ordinal);
        var nowSet = new HashSet<string>(now, StringComparer.Ordinal);
        var merged = now.ToBuilder();
        foreach (var child in seen)
        {
            if (!mineSet.Contains(child) && nowSet.Remove(child))
                merged.Remove(child);
        }
        foreach (var child in mine)
        {
            if (!seenSet.Contains(child) && nowSet.Add(child))
                merged.Add(child);
        }
        return merged.ToImmutable();
    }

    private void Create(string path, byte[] value, XenStoreTreeTransaction? transaction)
    {
        var parentPath = XenStorePath.Parent(path);
        var parent = GetParent(parentPath, transaction);
        if (parent is null)
        {
            // Implicit creation of missing parents, as xenstored: each with an empty value.
            Create(parentPath, [], transaction);
            parent = GetParent(parentPath, transaction)!;
        }
        // The new node is the transaction's own: if someone else created it meanwhile, that conflicts.
        transaction?.ParentsOnly.Remove(path);
        // A new node inherits its parent's permissions (a privileged creator keeps the parent's owner).
        Put(path, new XenStoreNode(value, parent.Permissions, [], 0), transaction);
        Put(parentPath, parent with { Children = parent.Children.Add(XenStorePath.Name(path)) }, transaction);
    }

    private void RemoveSubtree(string path, XenStoreNode node, XenStoreTreeTransaction? transaction)
    {
        foreach (var child in node.Children)
        {
            var childPath = XenStorePath.Child(path, child);
            var childNode = Get(childPath, transaction);
            if (childNode is not null)
                RemoveSubtree(childPath, childNode, transaction);
        }
        Put(path, null, transaction);
    }

    private void Put(string path, XenStoreNode? node, XenStoreTreeTransaction? transaction)
    {
        if (transaction is not null)
        {
            // Note what the committed tree held before the first change, so the commit can detect conflicts.
            if (!transaction.Overlay.ContainsKey(path))
                transaction.Observed.TryAdd(path, nodes.GetValueOrDefault(path)?.Generation ?? -1);
            transaction.Overlay[path] = node;
            return;
        }
        if (node is null)
            nodes.Remove(path);
        else
            nodes[path] = node with { Generation = ++generation };
    }

    private static void Record(XenStoreChange change, XenStoreTreeTransaction? transaction, List<XenStoreChange> changes)
    {
        if (transaction is null)
            changes.Add(change);
        else
            transaction.Changes.Add(change);
    }
}
