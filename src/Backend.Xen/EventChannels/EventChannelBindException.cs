namespace Backend.Xen.EventChannels;

/// <summary>
/// An interdomain bind was refused for what the frontend named (a port or domain the platform does not
/// have), as Xen's EVTCHNOP_bind_interdomain answers -EINVAL. It is the frontend's fault like any bad
/// key, so it is an <see cref="IOException"/> that fails only that vif's connection.
/// </summary>
public sealed class EventChannelBindException(ushort remoteDomain, uint remotePort, string reason)
    : IOException($"cannot bind event channel port {remotePort} of domain {remoteDomain}: {reason}")
{
    public ushort RemoteDomain { get; } = remoteDomain;

    public uint RemotePort { get; } = remotePort;
}
