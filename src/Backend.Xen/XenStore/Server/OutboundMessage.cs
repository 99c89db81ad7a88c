namespace Backend.Xen.XenStore.Server;

/// <summary>A whole message (header and payload) in a buffer rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/>.</summary>
internal readonly record struct OutboundMessage(byte[] Buffer, int Length);
