namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Counters of one domain's event channels: notifications on bound ports, those suppressed because the
/// peer's bit was already set, datagrams that could not be sent (ignored), datagrams read, and handlers
/// that threw.
/// </summary>
public readonly record struct SimEventChannelCounters(
    long Notifications,
    long Suppressed,
    long SendFailures,
    long DatagramsReceived,
    long HandlerFailures);
