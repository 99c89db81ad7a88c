using Backend.Xen.EventChannels;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// The backend's event channels with a guest's reaction inside every notification the backend sends:
/// <c>beforeNotify</c> runs on the backend's thread, after it pushed its responses and before it goes on. It
/// plays a guest on a CPU of its own that spins on <c>rsp_prod</c> and so always acts before the backend looks
/// at the ring again: the race a real hostile guest wins, made deterministic.
/// </summary>
public sealed class NotifyHookEventChannels(IEventChannels inner, Action<uint> beforeNotify) : IEventChannels
{
    public uint BindInterdomain(ushort remoteDomain, uint remotePort, IEventChannelHandler handler) =>
        inner.BindInterdomain(remoteDomain, remotePort, handler);

    public uint BindInterdomainLateEoi(ushort remoteDomain, uint remotePort, IEventChannelHandler handler) =>
        inner.BindInterdomainLateEoi(remoteDomain, remotePort, handler);

    public void LateEoi(uint localPort, IEventChannelHandler handler) => inner.LateEoi(localPort, handler);

    public void Unbind(uint localPort) => inner.Unbind(localPort);

    public void Notify(uint localPort)
    {
        beforeNotify(localPort);
        inner.Notify(localPort);
    }

    // The platform's, not ours: the fixture disposes it.
    public void Dispose()
    {
    }
}
