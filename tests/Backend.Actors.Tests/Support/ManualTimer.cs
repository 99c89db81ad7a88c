namespace Backend.Actors.Tests.Support;

/// <summary>A <see cref="ManualTimeProvider"/>'s timer: armed with a due time, fired by the test.</summary>
public sealed class ManualTimer(TimerCallback callback, object? state, TimeSpan dueTime) : ITimer
{
    /// <summary>The due time it was last armed with; infinite when disarmed or fired.</summary>
    public TimeSpan DueTime { get; private set; } = dueTime;

    public bool Armed => DueTime != Timeout.InfiniteTimeSpan;

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
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

    public void Dispose() => DueTime = Timeout.InfiniteTimeSpan;

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
