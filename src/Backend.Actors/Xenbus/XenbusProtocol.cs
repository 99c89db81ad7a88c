using Backend.Xen.Xenbus;

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

    /// <summary>The answer to a look at one vif's backend directory (null <paramref name="Failure"/>: it was read).</summary>
    public sealed record VifChecked(VifId Vif, bool Exists, Exception? Failure);

    /// <summary>The answer to a listing of one domain's backend directory: its handles, null when it is gone.</summary>
    public sealed record DomainScanned(ushort DomId, IReadOnlyList<string>? Handles, Exception? Failure);

    /// <summary>Published on the event stream once the watch is set (the host then prints READY).</summary>
    public sealed record Ready(string Root);

    /// <summary>Asks how many vif trees are running (answered with an int).</summary>
    public sealed record GetVifCount
    {
        public static readonly GetVifCount Instance = new();
    }
}
