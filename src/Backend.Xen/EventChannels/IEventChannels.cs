namespace Backend.Xen.EventChannels;

/// <summary>
/// The backend's event channels: interdomain binds to ports a frontend allocated, notifications, and
/// asynchronous delivery of pending ports to their handlers (one receive loop for all ports).
/// </summary>
public interface IEventChannels : IDisposable
{
    /// <summary>Binds our side to (remoteDomain, remotePort) and returns the local port.</summary>
    uint BindInterdomain(ushort remoteDomain, uint remotePort, IEventChannelHandler handler);

    /// <summary>
    /// Binds as <see cref="BindInterdomain"/>, with a late EOI, as Linux's
    /// <c>bind_interdomain_evtchn_to_irqhandler_lateeoi</c> (XSA-332): from each event delivered to
    /// <paramref name="handler"/> until <see cref="LateEoi"/>, the port stays masked. A notification meanwhile
    /// leaves it pending (the guest's further notifications cost nothing) and is delivered at the late EOI.
    /// </summary>
    uint BindInterdomainLateEoi(ushort remoteDomain, uint remotePort, IEventChannelHandler handler);

    /// <summary>
    /// Unmasks a late-EOI port once the work its last event asked for is done; an event held pending is
    /// delivered then. Does nothing unless <paramref name="localPort"/> is still bound to
    /// <paramref name="handler"/> (a port number is reused once unbound).
    /// </summary>
    void LateEoi(uint localPort, IEventChannelHandler handler);

    void Unbind(uint localPort);

    /// <summary>Notifies the peer of a bound local port; an unbound port does nothing, as in Xen.</summary>
    void Notify(uint localPort);
}
