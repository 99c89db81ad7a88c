namespace Backend.Xen.XenStore;

/// <summary>The xenstore connection broke (or the peer broke the protocol); every pending request fails with this.</summary>
public sealed class XenStoreConnectionException : IOException
{
    public XenStoreConnectionException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>The request never reached xenstore (the connection was broken before it was written): it may be sent again.</summary>
    internal bool RequestNotSent { get; init; }
}
