namespace Backend.Xen.EventChannels;

/// <summary>
/// The backend's event channels: interdomain binds to ports a frontend allocated, notifications, and
/// asynchronous delivery of pending ports to their handlers (one receive loop for all ports).
/// </summary>
public interface IEventChannels : IDisposable
{
    /// <summary>Binds our side to (remoteDomain, remotePort) and returns the local port.</summary>
    uint BindInterdomain(ushort remoteDomain, uint remotePort, IEventChannelHandler handler);

    void Unbind(uint localPort);

    /// <summary>Notifies the peer of a bound local port; an unbound port does nothing, as in Xen.</summary>
    void Notify(uint localPort);
}
