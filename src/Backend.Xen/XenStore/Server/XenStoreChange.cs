namespace Backend.Xen.XenStore.Server;

/// <summary>A change that fires watches: a node written (or its permissions set), or a subtree removed.</summary>
internal readonly record struct XenStoreChange(string Path, bool Removed);
