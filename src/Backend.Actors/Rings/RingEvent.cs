namespace Backend.Actors.Rings;

/// <summary>
/// "Look at your ring": an event-channel notification, or a kick from the connection actor after it
/// connects or re-attaches. A singleton, since it is sent on the data path.
/// </summary>
public sealed class RingEvent
{
    public static readonly RingEvent Instance = new();

    private RingEvent()
    {
    }
}
