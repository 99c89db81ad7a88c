namespace Backend.Actors.Rings;

/// <summary>
/// "Look at your ring": a kick from the connection actor after it connects or re-attaches
/// (<see cref="Instance"/>), or an event-channel notification (<see cref="Notification"/>), which the ring
/// actor takes from its <see cref="Vif.RingEventLatch"/> and is done with when its drain is. Singletons,
/// since they are sent on the data path.
/// </summary>
public sealed class RingEvent
{
    public static readonly RingEvent Instance = new(isNotification: false);

    public static readonly RingEvent Notification = new(isNotification: true);

    private RingEvent(bool isNotification)
    {
        IsNotification = isNotification;
    }

    public bool IsNotification { get; }
}
