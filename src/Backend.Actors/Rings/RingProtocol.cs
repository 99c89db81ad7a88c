namespace Backend.Actors.Rings;

/// <summary>
/// The messages of the ring actors (<see cref="TxRingActor"/>, <see cref="RxRingActor"/>), besides the
/// grant copies they exchange with their lane's hypercall actor (<see cref="Hypercall.GrantCopyBatch"/>),
/// and the frames the RX actor takes (<see cref="Bridge.FrameBatch"/>). The orderly stop is no message:
/// it closes the <see cref="TxIntake"/>, which every TX actor looks at before each pass.
/// Those sent on the data path are singletons: sending them allocates nothing.
/// </summary>
internal static class RingProtocol
{
    /// <summary>
    /// "Look at your ring": a kick from the connection actor after it connects or re-attaches
    /// (<see cref="Instance"/>), or an event-channel notification (<see cref="Notification"/>), which the
    /// ring actor takes from its <see cref="Vif.RingEventLatch"/> and is done with when its drain is.
    /// </summary>
    public sealed record RingEvent
    {
        public static readonly RingEvent Instance = new(isNotification: false);

        public static readonly RingEvent Notification = new(isNotification: true);

        private RingEvent(bool isNotification)
        {
            IsNotification = isNotification;
        }

        public bool IsNotification { get; }
    }

    /// <summary>
    /// A ring actor's note to itself that its ring may hold more than one turn's pass took: it yields its
    /// lane's thread to every other actor there and takes the rest at its next turn (Linux: NAPI's
    /// budget). At most one is outstanding per actor.
    /// </summary>
    public sealed record DrainContinuation
    {
        public static readonly DrainContinuation Instance = new();

        private DrainContinuation()
        {
        }
    }

    /// <summary>
    /// The TX actor's timer: the packet at the head of its ring waited for credit, and the credit of a
    /// later period may now cover it (Linux: the credit timeout).
    /// </summary>
    public sealed record CreditDue
    {
        public static readonly CreditDue Instance = new();

        private CreditDue()
        {
        }
    }

    /// <summary>
    /// The RX actor's timer: a queued frame expires, or frames have waited for buffers for the stall
    /// timeout (Linux: the RX thread's timed wait).
    /// </summary>
    public sealed record RxWatchDue
    {
        public static readonly RxWatchDue Instance = new();

        private RxWatchDue()
        {
        }
    }

    /// <summary>The vif was disabled (by a fatal error on either ring): consume no more requests, deliver no more frames.</summary>
    public sealed record Stop
    {
        public static readonly Stop Instance = new();

        private Stop()
        {
        }
    }

    /// <summary>
    /// Makes a ring actor throw, as a bug in it would: fault injection for tests of the supervision promise
    /// (a restart of one guest's tree re-attaches to its live rings and nobody else notices).
    /// </summary>
    internal sealed record InjectFault(string Reason);
}
