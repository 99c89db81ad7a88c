namespace Backend.TestSupport;

/// <summary>A <see cref="ManualClock"/>'s timer: armed with a due time, fired by the test.</summary>
public sealed class ManualClockTimer(TimerCallback callback, object? state, TimeSpan dueTime) : ITimer
{
    /// <summary>The due time it was last armed with; infinite when disarmed, fired or disposed.</summary>
    public TimeSpan DueTime { get; private set; } = dueTime;

    public bool Armed => DueTime != Timeout.InfiniteTimeSpan;

    public bool Disposed { get; private set; }

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        if (Disposed)
            return false;
        DueTime = dueTime;
        return true;
    }

    public void Fire()
    {
        if (!Armed)
            throw new InvalidOperationException("the timer is not armed");
        DueTime = Timeout.InfiniteTimeSpan;
        callback(state);
    }

    public void Dispose()
    {
        Disposed = true;
        DueTime = Timeout.InfiniteTimeSpan;
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
