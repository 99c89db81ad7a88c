using System.Collections.Immutable;

namespace Backend.Xen.XenStore.Server;

/// <summary>
/// One node of the tree, immutable so that a transaction's private copy and the committed tree can share
/// what they have in common. <see cref="Generation"/> is the tree's modification count when the node last
/// changed: a transaction's commit compares it with what it saw. <see cref="Holder"/> is the connection
/// charged for it (the one that created or last wrote it; null for the root).
/// </summary>
internal sealed record XenStoreNode(byte[] Value, ImmutableArray<string> Permissions, ImmutableList<string> Children, long Generation,
    XenStoreQuotaAccount? Holder = null);
