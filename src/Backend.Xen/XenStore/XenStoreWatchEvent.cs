namespace Backend.Xen.XenStore;

/// <summary>A WATCH_EVENT: the path that changed and the token the watch was set with.</summary>
public readonly record struct XenStoreWatchEvent(string Path, string Token);
