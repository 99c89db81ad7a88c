namespace Backend.Xen.XenStore;

/// <summary>An open xenstore transaction: its tx_id as xenstored returned it.</summary>
public sealed record XenStoreTransaction(uint Id)
{
    /// <summary>
    /// The connection it was started on (null when made by hand): xenstore forgets a transaction with its
    /// connection, so its requests go there and fail once that connection is lost.
    /// </summary>
    internal XenStoreClientConnection? Connection { get; init; }
}
