namespace Backend.Xen.XenStore.Server;

/// <summary>
/// A whole message (header and payload) in a buffer rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/>;
/// for a watch event that may be coalesced, its path and token.
/// </summary>
internal readonly record struct OutboundMessage(byte[] Buffer, int Length, (string Path, string Token)? WatchEvent = null);
