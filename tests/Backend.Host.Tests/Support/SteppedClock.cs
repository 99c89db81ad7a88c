namespace Backend.Host.Tests.Support;

/// <summary>A clock that moves only when the test says: elapsed times are exact, nothing is waited for.</summary>
public sealed class SteppedClock : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
