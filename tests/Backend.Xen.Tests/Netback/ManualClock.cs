namespace Backend.Xen.Tests.Netback;

/// <summary>A clock that moves only when the test says, so that a period is checked by its length, not waited for.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _now = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _now;

    public void Advance(TimeSpan by) => _now += by.Ticks;
}
