namespace Backend.TestSupport;

/// <summary>A clock that moves only when the test says, so that a period is checked by its length, not waited for.</summary>
public sealed class ManualClock : TimeProvider
{
    private readonly List<ManualClockTimer> _timers = [];
    private long _now = TimeSpan.TicksPerDay;

    /// <summary>The timers made on this clock; they fire only when the test says.</summary>
    public IReadOnlyList<ManualClockTimer> Timers => _timers;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualClockTimer(callback, state, dueTime);
        _timers.Add(timer);
        return timer;
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _now;

    public void Advance(TimeSpan by) => _now += by.Ticks;
}
