namespace Backend.Actors.Xenbus;

/// <summary>The messages of <see cref="XenbusSupervisor"/>.</summary>
public static class XenbusProtocol
{
    public sealed record Start
    {
        public static readonly Start Instance = new();
    }

    /// <summary>The watch on backend/vif fired for <paramref name="Path"/>.</summary>
    public sealed record BackendChanged(string Path);

    /// <summary>Published on the event stream once the watch is set (the host then prints READY).</summary>
    public sealed record Ready(string Root);

    /// <summary>
    /// An orderly stop is coming: stop taking new TX requests, so that what is queued for the guests can
    /// be delivered before the actors stop (SIMXEN: an orderly stop flushes and loses none).
    /// </summary>
    public sealed record Quiesce
    {
        public static readonly Quiesce Instance = new();
    }

    /// <summary>Asks how many vif trees are running (answered with an int).</summary>
    public sealed record GetVifCount
    {
        public static readonly GetVifCount Instance = new();
    }
}
