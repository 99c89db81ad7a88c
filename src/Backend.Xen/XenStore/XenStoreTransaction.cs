namespace Backend.Xen.XenStore;

/// <summary>An open xenstore transaction: its tx_id as xenstored returned it.</summary>
public sealed record XenStoreTransaction(uint Id);
