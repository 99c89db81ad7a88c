namespace Backend.Xen.XenStore.Server;

/// <summary>A watch a connection set: its path (absolute or special) and token (bytes kept as Latin-1 text, echoed exactly).</summary>
internal sealed record XenStoreServerWatch(XenStoreServerConnection Connection, string Path, string Token);
