using System.Collections.Immutable;

namespace Backend.Xen.XenStore.Server;

/// <summary>
/// The xenstore tree and its transactions, without any I/O: every operation takes validated arguments and
/// returns an error name (null on success), appending what fires watches to a list. Not thread-safe: the
/// server calls it under one lock. Permissions are stored and returned, never enforced (SIMXEN: every
/// socket client is privileged). Quotas are: each node is charged to the connection that created or last
/// wrote it (its path and value), a transaction charges its requests and the nodes it creates until it
/// ends, and an operation that would pass a quota answers ENOSPC before it changes anything.
/// </summary>
internal sealed class XenStoreTree
{
    private static readonly ImmutableArray<string> RootPermissions = ["n0"];

    private readonly Dictionary<string, XenStoreNode> _nodes = new(StringComparer.Ordinal);
    private readonly XenStoreServerOptions _limits;
    private long _generation;

    public XenStoreTree(XenStoreServerOptions? limits = null)
    {
        _limits = limits ?? new XenStoreServerOptions();
        _nodes["/"] = new XenStoreNode([], RootPermissions, [], 0);
        Bytes = 1;
    }

    public int NodeCount => _nodes.Count;

    /// <summary>The committed nodes by path, for checks of the tree's invariants (the fuzz target).</summary>
    internal IReadOnlyDictionary<string, XenStoreNode> Nodes => _nodes;

    /// <summary>Paths and values of the committed nodes.</summary>
    public long Bytes { get; private set; }

    /// <summary>Bytes of the requests of every open transaction.</summary>
    public long PendingBytes { get; private set; }

    /// <summary>Nodes every open transaction would create.</summary>
    public int PendingNodes { get; private set; }

    /// <summary>The node as <paramref name="transaction"/> sees it (the committed tree when null).</summary>
    public XenStoreNode? Get(string path, XenStoreTreeTransaction? transaction)
    {
        if (transaction is null)
            return _nodes.GetValueOrDefault(path);
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
            return _nodes.GetValueOrDefault(path);
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
        var committed = _nodes.GetValueOrDefault(path);
        transaction.Observed.TryAdd(path, committed?.Generation ?? -1);
        return committed;
    }

    public string? Read(string path, XenStoreTreeTransaction? transaction, out byte[] value)
    {
        var node = Get(path, transaction);
        value = node?.Value ?? [];
        return node is null ? XenStoreErrors.ENOENT : null;
    }

    /// <param name="account">The writing connection's, charged for the node; null charges no one.</param>
    public string? Write(string path, byte[] value, XenStoreTreeTransaction? transaction, List<XenStoreChange> changes, XenStoreQuotaAccount? account = null)
    {
        if (path == "/")
            return XenStoreErrors.EINVAL;
        if (value.Length > _limits.MaxValueSize)
            return XenStoreErrors.ENOSPC;
        var current = Peek(path, transaction);
        var refused = current is null ? CheckCreate(path, value.Length, transaction, account) : CheckRewrite(path, current, value.Length, transaction, account);
        if (refused is not null)
            return refused;
        var node = Get(path, transaction);
        if (node is null)
            Create(path, value, transaction, account);
        else
            Put(path, node with { Value = value, Holder = account }, transaction);
        Record(new XenStoreChange(path, Removed: false), transaction, changes);
        return null;
    }

    /// <summary>Creates the node (and missing parents) with an empty value; an existing node is left alone, as xenstored.</summary>
    public string? Mkdir(string path, XenStoreTreeTransaction? transaction, List<XenStoreChange> changes, XenStoreQuotaAccount? account = null)
    {
        if (Peek(path, transaction) is null && CheckCreate(path, 0, transaction, account) is { } refused)
            return refused;
        if (Get(path, transaction) is not null)
            return null;
        Create(path, [], transaction, account);
        Record(new XenStoreChange(path, Removed: false), transaction, changes);
        return null;
    }

    /// <summary>
    /// Charges one request of <paramref name="transaction"/> (its payload's bytes) to its connection; ENOSPC
    /// when the transaction has made its share of requests or the bytes would pass a quota.
    /// </summary>
    public string? ChargeRequest(XenStoreTreeTransaction transaction, int bytes)
    {
        if (transaction.Requests >= _limits.MaxRequestsPerTransaction)
            return XenStoreErrors.ENOSPC;
        if (CheckQuota(transaction.Account, 0, bytes, 0, bytes) is { } refused)
            return refused;
        transaction.Requests++;
        transaction.PendingBytes += bytes;
        PendingBytes += bytes;
        if (transaction.Account is { } account)
            account.Bytes += bytes;
        return null;
    }

    /// <summary>A transaction has ended (committed, aborted or lost with its connection): its charges go.</summary>
    public void End(XenStoreTreeTransaction transaction)
    {
        PendingBytes -= transaction.PendingBytes;
        PendingNodes -= transaction.PendingNodes;
        if (transaction.Account is { } account)
        {
            account.Bytes -= transaction.PendingBytes;
            account.PendingNodes -= transaction.PendingNodes;
        }
        transaction.PendingBytes = 0;
        transaction.PendingNodes = 0;
    }

    /// <summary>
    /// ENOSPC when <paramref name="account"/> taking <paramref name="nodes"/> more nodes and <paramref name="bytes"/>
    /// more bytes, and the tree <paramref name="treeNodes"/> and <paramref name="treeBytes"/>, would pass a quota.
    /// What only frees (or keeps) is never refused.
    /// </summary>
    public string? CheckQuota(XenStoreQuotaAccount? account, int nodes, long bytes, int treeNodes, long treeBytes)
    {
        if (account is null)
            return null;
        if (nodes > 0 && account.Nodes + account.PendingNodes + nodes > _limits.MaxNodesPerConnection)
            return XenStoreErrors.ENOSPC;
        if (bytes > 0 && account.Bytes + bytes > _limits.MaxBytesPerConnection)
            return XenStoreErrors.ENOSPC;
        if (treeNodes > 0 && NodeCount + PendingNodes + treeNodes > _limits.MaxNodes)
            return XenStoreErrors.ENOSPC;
        if (treeBytes > 0 && Bytes + PendingBytes + treeBytes > _limits.MaxBytes)
            return XenStoreErrors.ENOSPC;
        return null;
    }

    /// <summary>
    /// Creating <paramref name="path"/> creates it and every missing parent: each is a node (and its path's
    /// bytes) for the creator. In a transaction they are pending until it ends; its request paid the bytes.
    /// </summary>
    private string? CheckCreate(string path, int valueLength, XenStoreTreeTransaction? transaction, XenStoreQuotaAccount? account)
    {
        var created = 0;
        long bytes = valueLength;
        for (var missing = path; Peek(missing, transaction) is null; missing = XenStorePath.Parent(missing))
        {
            created++;
            bytes += missing.Length;
        }
        if (transaction is not null)
            bytes = 0;
        return CheckQuota(account, created, bytes, created, bytes);
    }

    /// <summary>A node the writer holds costs the change of its value; one it takes over costs it a node and the whole.</summary>
    private string? CheckRewrite(string path, XenStoreNode current, int valueLength, XenStoreTreeTransaction? transaction, XenStoreQuotaAccount? account)
    {
        if (transaction is not null)
            return null;
        long change = valueLength - current.Value.Length;
        return current.Holder == account
            ? CheckQuota(account, 0, change, 0, change)
            : CheckQuota(account, 1, path.Length + valueLength, 0, change);
    }

    /// <summary>The node as <paramref name="transaction"/> sees it, without noting that it looked (for quota checks).</summary>
    private XenStoreNode? Peek(string path, XenStoreTreeTransaction? transaction) =>
        transaction is not null && transaction.Overlay.TryGetValue(path, out var own) ? own : _nodes.GetValueOrDefault(path);

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
        {
            Put(parentPath, parent with { Children = parent.Children.Remove(XenStorePath.Name(path)) }, transaction);
            RecordChildEdit(transaction, parentPath, XenStorePath.Name(path), added: false);
        }
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
    public bool Commit(XenStoreTreeTransaction transaction, List<XenStoreChange> changes) => TryCommit(transaction, changes) is null;

    /// <summary>
    /// Commits, or answers EAGAIN when any committed node the transaction looked at has changed since, or
    /// ENOSPC when what the commit would charge its connection (or the tree) passes a quota; either way
    /// nothing is changed. Call it once the transaction has ended (<see cref="End"/>): its pending charges
    /// are gone, and its nodes are charged as they are applied.
    /// </summary>
    public string? TryCommit(XenStoreTreeTransaction transaction, List<XenStoreChange> changes)
    {
        foreach (var (path, seen) in transaction.Observed)
        {
            var now = _nodes.GetValueOrDefault(path);
            if ((now?.Generation ?? -1) == seen)
                continue;
            // A parent the transaction only added children to or removed children from may have gained
            // or lost others meanwhile: its edits are applied to the parent as it is now, as oxenstored
            // coalesces concurrent device additions (two guests' vifs created at once under backend/vif
            // do not conflict). It must still exist.
            if (now is null || !transaction.ParentsOnly.ContainsKey(path))
                return XenStoreErrors.EAGAIN;
        }
        if (CheckCommitQuota(transaction) is { } refused)
            return refused;
        foreach (var (path, node) in transaction.Overlay)
            Put(path, Committed(transaction, path, node), null);
        changes.AddRange(transaction.Changes);
        return null;
    }

    /// <summary>What committing <paramref name="node"/>, the transaction's version of <paramref name="path"/>, stores.</summary>
    private XenStoreNode? Committed(XenStoreTreeTransaction transaction, string path, XenStoreNode? node) =>
        node is not null && transaction.ParentsOnly.TryGetValue(path, out var seen) && _nodes.TryGetValue(path, out var now) && now.Generation != seen.Generation
            ? now with { Children = transaction.ChildEdits.TryGetValue(path, out var edits) ? ApplyChildEdits(now.Children, edits) : now.Children }
            : node;

    /// <summary>
    /// The quotas against what the commit would charge: the transaction's requests were charged their
    /// bytes and its new nodes counted while it was open, but what it holds once applied can be more: a
    /// node another connection held becomes its own, and a path's missing parents are nodes and bytes its
    /// request did not pay for. Only the transaction's connection gains; the others only lose.
    /// </summary>
    private string? CheckCommitQuota(XenStoreTreeTransaction transaction)
    {
        var account = transaction.Account;
        if (account is null)
            return null;
        int accountNodes = 0, treeNodes = 0;
        long accountBytes = 0, treeBytes = 0;
        foreach (var (path, node) in transaction.Overlay)
        {
            var before = _nodes.GetValueOrDefault(path);
            var after = Committed(transaction, path, node);
            long beforeBytes = before is null ? 0 : path.Length + before.Value.Length;
            long afterBytes = after is null ? 0 : path.Length + after.Value.Length;
            treeNodes += (after is null ? 0 : 1) - (before is null ? 0 : 1);
            treeBytes += afterBytes - beforeBytes;
            var held = before?.Holder == account;
            var holds = after?.Holder == account;
            accountNodes += (holds ? 1 : 0) - (held ? 1 : 0);
            accountBytes += (holds ? afterBytes : 0) - (held ? beforeBytes : 0);
        }
        return CheckQuota(account, accountNodes, accountBytes, treeNodes, treeBytes);
    }

    /// <summary>
    /// The committed children with the transaction's own additions and removals applied, as it made them.
    /// Not a difference of child lists: the transaction's copy of the parent may be older than a node it
    /// removed, or newer than the first look (found by the xenstore fuzz target: a commit listed a child it
    /// had removed, or left out one it had created).
    /// </summary>
    private static ImmutableList<string> ApplyChildEdits(ImmutableList<string> now, Dictionary<string, bool> edits)
    {
        // A set, not list searches: backend/vif has a child per guest.
        var present = new HashSet<string>(now, StringComparer.Ordinal);
        var merged = now.ToBuilder();
        foreach (var (child, added) in edits)
        {
            if (added && present.Add(child))
                merged.Add(child);
            else if (!added && present.Remove(child))
                merged.Remove(child);
        }
        return merged.ToImmutable();
    }

    /// <summary>Notes that the transaction added (or removed) <paramref name="child"/> under <paramref name="parentPath"/>; the last edit of a name wins.</summary>
    private static void RecordChildEdit(XenStoreTreeTransaction? transaction, string parentPath, string child, bool added)
    {
        if (transaction is null)
            return;
        if (!transaction.ChildEdits.TryGetValue(parentPath, out var edits))
            transaction.ChildEdits.Add(parentPath, edits = new Dictionary<string, bool>(StringComparer.Ordinal));
        edits[child] = added;
    }

    private void Create(string path, byte[] value, XenStoreTreeTransaction? transaction, XenStoreQuotaAccount? account)
    {
        var parentPath = XenStorePath.Parent(path);
        var parent = GetParent(parentPath, transaction);
        if (parent is null)
        {
            // Implicit creation of missing parents, as xenstored: each with an empty value.
            Create(parentPath, [], transaction, account);
            parent = GetParent(parentPath, transaction)!;
        }
        // The new node is the transaction's own: if someone else created it meanwhile, that conflicts.
        transaction?.ParentsOnly.Remove(path);
        if (transaction is not null)
        {
            transaction.PendingNodes++;
            PendingNodes++;
            if (account is not null)
                account.PendingNodes++;
        }
        // A new node inherits its parent's permissions (a privileged creator keeps the parent's owner).
        Put(path, new XenStoreNode(value, parent.Permissions, [], 0, account), transaction);
        Put(parentPath, parent with { Children = parent.Children.Add(XenStorePath.Name(path)) }, transaction);
        RecordChildEdit(transaction, parentPath, XenStorePath.Name(path), added: true);
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
                transaction.Observed.TryAdd(path, _nodes.GetValueOrDefault(path)?.Generation ?? -1);
            transaction.Overlay[path] = node;
            return;
        }
        // The committed tree's charges follow its nodes: the old version's are released, the new one's taken.
        if (_nodes.Remove(path, out var old))
            Charge(path, old, -1);
        if (node is null)
            return;
        node = node with { Generation = ++_generation };
        _nodes[path] = node;
        Charge(path, node, 1);
    }

    private void Charge(string path, XenStoreNode node, int sign)
    {
        long bytes = path.Length + node.Value.Length;
        Bytes += sign * bytes;
        if (node.Holder is { } holder)
        {
            holder.Nodes += sign;
            holder.Bytes += sign * bytes;
        }
    }

    private static void Record(XenStoreChange change, XenStoreTreeTransaction? transaction, List<XenStoreChange> changes)
    {
        if (transaction is null)
            changes.Add(change);
        else
            transaction.Changes.Add(change);
    }
}
