namespace Backend.Xen.XenStore.Server;

/// <summary>
/// An open transaction, optimistic as xenstored's: its writes go to a private overlay, every committed node
/// it looks at has its generation noted, and the commit fails with EAGAIN when any of them changed since.
/// </summary>
internal sealed class XenStoreTreeTransaction(uint id, XenStoreQuotaAccount? account = null)
{
    public uint Id { get; } = id;

    /// <summary>The connection whose quotas the transaction's requests and new nodes count against (null: none).</summary>
    public XenStoreQuotaAccount? Account { get; } = account;

    /// <summary>The transaction's own version of the nodes it wrote; null for a node it removed.</summary>
    public Dictionary<string, XenStoreNode?> Overlay { get; } = new(StringComparer.Ordinal);

    /// <summary>The generation of each committed node the transaction looked at first; -1 when it was missing.</summary>
    public Dictionary<string, long> Observed { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The committed nodes the transaction touched only as the parent of a node it created or removed, as
    /// first seen: their child list may have changed since without a conflict (see XenStoreTree.Commit).
    /// A node the transaction itself looked at or wrote is not here.
    /// </summary>
    public Dictionary<string, XenStoreNode> ParentsOnly { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The children the transaction added (true) or removed (false), by parent path: what a commit applies
    /// to a parent in <see cref="ParentsOnly"/> that others changed meanwhile.
    /// </summary>
    public Dictionary<string, Dictionary<string, bool>> ChildEdits { get; } = new(StringComparer.Ordinal);

    /// <summary>What fires watches once the transaction commits, in order.</summary>
    public List<XenStoreChange> Changes { get; } = [];

    /// <summary>Requests made in the transaction so far.</summary>
    public int Requests { get; set; }

    /// <summary>Bytes of those requests, charged to <see cref="Account"/> until the transaction ends.</summary>
    public long PendingBytes { get; set; }

    /// <summary>Nodes the transaction creates, charged to <see cref="Account"/> until it ends (then to their holders if it commits).</summary>
    public int PendingNodes { get; set; }
}
