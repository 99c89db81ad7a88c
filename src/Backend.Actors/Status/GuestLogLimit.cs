namespace Backend.Actors.Status;

/// <summary>
/// The budget of log lines one vif's guest can make us write, as Linux's <c>net_ratelimit</c>: a burst of
/// <see cref="Burst"/> lines per <see cref="Interval"/>, the rest suppressed and counted, and the count
/// reported with the next line that is written. It lives with the vif's status, so neither a reconnect nor
/// a restart of the vif's tree gives the guest a fresh budget.
/// </summary>
public sealed class GuestLogLimit(TimeProvider time)
{
    public const int Burst = 10;
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private long _windowStart = long.MinValue;
    private int _written;
    private long _suppressed;
    private long _suppressedTotal;

    /// <summary>Lines suppressed since the vif appeared.</summary>
    public long SuppressedTotal => Interlocked.Read(ref _suppressedTotal);

    /// <summary>
    /// True when a line may be written now; <paramref name="suppressedBefore"/> is then how many were
    /// suppressed since the last one written (the caller says so in its line).
    /// </summary>
    public bool TryTake(out long suppressedBefore)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_windowStart == long.MinValue || time.GetElapsedTime(_windowStart, now) >= Interval)
            {
                _windowStart = now;
                _written = 0;
            }
            if (_written < Burst)
            {
                _written++;
                suppressedBefore = _suppressed;
                _suppressed = 0;
                return true;
            }
            _suppressed++;
            Interlocked.Increment(ref _suppressedTotal);
            suppressedBefore = 0;
            return false;
        }
    }
}
