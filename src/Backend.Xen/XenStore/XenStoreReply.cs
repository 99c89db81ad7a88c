namespace Backend.Xen.XenStore;

/// <summary>A reply as it came: its type (the request's, or ERROR) and a private copy of its payload.</summary>
internal readonly record struct XenStoreReply(XenStoreMessageType Type, byte[] Payload);
