using Backend.Actors.Vif;
using Backend.Xen.EventChannels;

namespace Backend.Actors.Ctrl;

/// <summary>
/// The local event-channel port of a vif's control ring (<c>event-channel-ctrl</c>, bound with a late EOI
/// as the data rings' ports) and its <see cref="RingEventLatch"/>, held by the connection so that both
/// outlive a restart of the <see cref="CtrlRingActor"/>.
/// </summary>
internal sealed class CtrlChannel(IEventChannels eventChannels)
{
    public RingEventLatch Events { get; } = new();

    /// <summary>Set once bound, before the ring is first kicked.</summary>
    public uint Port { get; set; }

    public void Notify() => eventChannels.Notify(Port);
}
