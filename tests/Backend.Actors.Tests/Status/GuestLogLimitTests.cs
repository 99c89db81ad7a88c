using Backend.Actors.Status;

namespace Backend.Actors.Tests.Status;

/// <summary>Issue 12, finding 7: a guest's repeated failures cost a bounded number of log lines.</summary>
public sealed class GuestLogLimitTests
{
    private sealed class ManualClock : TimeProvider
    {
        public long Now;

        public override long TimestampFrequency => 1000;

        public override long GetTimestamp() => Now;
    }

    [Fact]
    public void A_burst_is_written_then_lines_are_suppressed_and_counted_until_the_interval_passes()
    {
        var clock = new ManualClock();
        var limit = new GuestLogLimit(clock);
        for (var i = 0; i < GuestLogLimit.Burst; i++)
        {
            Assert.True(limit.TryTake(out var before));
            Assert.Equal(0, before);
        }
        for (var i = 0; i < 25; i++)
            Assert.False(limit.TryTake(out _));
        Assert.Equal(25, limit.SuppressedTotal);

        clock.Now += (long)GuestLogLimit.Interval.TotalMilliseconds - 1;
        Assert.False(limit.TryTake(out _));
        clock.Now += 1;
        Assert.True(limit.TryTake(out var suppressed));
        Assert.Equal(26, suppressed);
        // Said once: the next line carries no count.
        Assert.True(limit.TryTake(out var again));
        Assert.Equal(0, again);
        Assert.Equal(26, limit.SuppressedTotal);
    }
}
