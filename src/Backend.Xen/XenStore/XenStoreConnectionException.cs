namespace Backend.Xen.XenStore;

/// <summary>The xenstore connection broke (or the peer broke the protocol); every pending request fails with this.</summary>
public sealed class XenStoreConnectionException : IOException
{
    public XenStoreConnectionException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
