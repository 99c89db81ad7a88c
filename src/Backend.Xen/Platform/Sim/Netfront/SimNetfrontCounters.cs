namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>A snapshot of a netfront's counters since it started (they survive reconnects).</summary>
/// <param name="Sent">Frames put on the TX ring.</param>
/// <param name="Received">Frames reassembled from the RX ring and handed to the consumer.</param>
/// <param name="TxErrors">TX responses (extras' NULL ones aside) that were not OKAY.</param>
/// <param name="RxErrors">Frames dropped because a response was an error or malformed.</param>
/// <param name="TxRingFull">Sends refused (or made to wait) for want of ring slots.</param>
/// <param name="GrantsStillInUse">End-of-access attempts that found the backend still using a grant.</param>
public readonly record struct SimNetfrontCounters(
    long Sent,
    long Received,
    long TxErrors,
    long RxErrors,
    long TxRingFull,
    long GrantsStillInUse);
