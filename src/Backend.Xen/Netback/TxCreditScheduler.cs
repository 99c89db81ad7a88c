namespace Backend.Xen.Netback;

/// <summary>
/// Linux netback's transmit credit scheduler (<c>tx_credit_exceeded</c>, <c>tx_add_credit</c>) for a vif
/// with a <c>rate</c> of <see cref="Bytes"/> per period (its microseconds): a packet is taken while the credit
/// covers it, else it stays on the ring until a later period's credit does (SIMXEN: excess requests wait,
/// none is dropped). Credit is earned by elapsed time: every whole period since the window started adds
/// <see cref="Bytes"/>, up to <see cref="MaxBurst"/>. Linux adds one chunk per expiry of its timer and
/// re-arms it while the credit falls short, which comes to the same; here the owner's timer only wakes
/// the queue at <see cref="Wait"/>, so a wake-up that comes early or late changes nothing.
/// Not thread-safe: one TX queue owns an instance.
/// </summary>
public sealed class TxCreditScheduler
{
    /// <summary>Linux's floor for a burst: a 128 KiB packet always gets through in the end, so a vif never seizes up.</summary>
    public const long MinBurst = 131072;

    private readonly TimeProvider _time;
    private readonly long _period;
    private long _remaining;
    private long _windowStart;

    /// <param name="bytes">Credit per period (libxl's <c>rate</c> "bytes,usec": the bytes).</param>
    /// <param name="microseconds">The period (the usec), at least 1.</param>
    /// <param name="time">The clock the elapsed time is read from.</param>
    public TxCreditScheduler(ulong bytes, ulong microseconds, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfZero(bytes);
        ArgumentOutOfRangeException.ThrowIfZero(microseconds);
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        Bytes = (long)Math.Min(bytes, long.MaxValue);
        MaxBurst = Math.Max(MinBurst, Bytes);
        var period = (UInt128)microseconds * (ulong)time.TimestampFrequency / 1_000_000;
        _period = period >= long.MaxValue ? long.MaxValue : Math.Max(1, (long)period);
        // As Linux at connect: the first period's credit at once.
        _remaining = Bytes;
        _windowStart = time.GetTimestamp();
    }

    public long Bytes { get; }

    /// <summary>The most credit that builds up: <see cref="Bytes"/>, at least <see cref="MinBurst"/> (Linux's max_burst).</summary>
    public long MaxBurst { get; }

    /// <summary>Credit left in the current window.</summary>
    public long Remaining => _remaining;

    /// <summary>
    /// Takes <paramref name="size"/> bytes of credit when what the elapsed time earned covers them. False
    /// when the packet must wait: <see cref="Wait"/> then says until when.
    /// </summary>
    public bool TryTake(int size)
    {
        if (size > _remaining)
        {
            Refill();
            if (size > _remaining)
                return false;
        }
        _remaining -= size;
        return true;
    }

    /// <summary>
    /// Whether the credit covers <paramref name="size"/> bytes now (refilled first when it falls short), without
    /// taking it: for a caller that may still find it cannot send (the RX queue, with too few buffers posted).
    /// </summary>
    public bool Covers(int size)
    {
        if (size > _remaining)
            Refill();
        return size <= _remaining;
    }

    /// <summary>Takes <paramref name="size"/> bytes that <see cref="Covers"/> said are there.</summary>
    public void Take(int size) => _remaining -= size;

    /// <summary>How long until the next period's credit: when a refused packet is worth another look.</summary>
    public TimeSpan Wait
    {
        get
        {
            Refill();
            return _time.GetElapsedTime(_time.GetTimestamp(), _windowStart + _period);
        }
    }

    /// <summary>Adds the credit of every whole period since the window started, and moves the window on.</summary>
    private void Refill()
    {
        var periods = (_time.GetTimestamp() - _windowStart) / _period;
        if (periods <= 0)
            return;
        _windowStart += periods * _period;
        // Saturating: a long idle vif gets MaxBurst, never an overflow.
        var room = MaxBurst - _remaining;
        _remaining = periods >= room / Bytes + 1 ? MaxBurst : Math.Min(MaxBurst, _remaining + periods * Bytes);
    }
}
