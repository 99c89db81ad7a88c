namespace Backend.Actors.HostNetwork;

/// <summary>What crossed one TAP, and what was dropped on the way; updated with Interlocked, read by anyone.</summary>
public sealed class TapPortCounters
{
    /// <summary>Frames the host stack sent into the daemon through the TAP.</summary>
    public long FromHost;

    /// <summary>Frames written to the TAP for the host stack.</summary>
    public long ToHost;

    /// <summary>Frames from the host dropped: carrier off, too long for the vif's MTU, a header that does not fit.</summary>
    public long FromHostDropped;

    /// <summary>Frames for the host dropped: offload state their headers cannot carry, or the kernel refused the write.</summary>
    public long ToHostDropped;

    /// <summary>The errno of the last refused write (5 EIO: the interface is down), 0 if none.</summary>
    public int LastWriteError;
}
