namespace Backend.Xen.XenStore.Server;

/// <summary>
/// What one connection holds, against its quotas: the nodes it created or last wrote (they stay charged
/// to it after it has gone, so that they still count in the tree's totals until removed), the bytes of
/// those nodes, of its watches and of its open transactions' requests, and the nodes its open
/// transactions would create. Touched only under the server's lock.
/// </summary>
internal sealed class XenStoreQuotaAccount
{
    public int Nodes { get; set; }

    public long Bytes { get; set; }

    public int PendingNodes { get; set; }
}
