using Backend.Xen.EventChannels;

namespace Backend.Actors.Vif;

/// <summary>
/// The local event-channel ports of one connected vif (one shared port, or split tx/rx). Set by
/// <see cref="VifConnection"/> after binding and before the rings are first kicked. Each ring's
/// <see cref="RingEventLatch"/> lives here, with the connection, so that it outlives a restart of its ring
/// actor.
/// </summary>
public sealed class VifChannels(IEventChannels eventChannels)
{
    public RingEventLatch TxEvents { get; } = new();

    public RingEventLatch RxEvents { get; } = new();

    public uint TxPort { get; set; }

    public uint RxPort { get; set; }

    public bool Split => TxPort != RxPort;

    public void NotifyTx() => eventChannels.Notify(TxPort);

    public void NotifyRx() => eventChannels.Notify(RxPort);
}
