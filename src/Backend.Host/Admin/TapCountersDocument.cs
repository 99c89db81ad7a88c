using Backend.Actors.HostNetwork;

namespace Backend.Host.Admin;

/// <summary>
/// A TAP device in <c>GET /status</c> (a vif's with <c>--switch tap</c>, or an uplink's): frames from and
/// to the host stack, and those dropped on the way; <see cref="LastWriteError"/> is the errno of the last
/// write the kernel refused (5, EIO: the interface is down), 0 if none.
/// </summary>
public sealed record TapCountersDocument(
    string Device, long FromHost, long ToHost, long FromHostDropped, long ToHostDropped, int LastWriteError)
{
    public static TapCountersDocument From(string device, TapPortCounters c) => new(
        device, Interlocked.Read(ref c.FromHost), Interlocked.Read(ref c.ToHost),
        Interlocked.Read(ref c.FromHostDropped), Interlocked.Read(ref c.ToHostDropped), Volatile.Read(ref c.LastWriteError));
}
