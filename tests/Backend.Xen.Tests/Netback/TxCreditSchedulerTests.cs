using Backend.Xen.Netback;

namespace Backend.Xen.Tests.Netback;

/// <summary>Linux netback's credit scheduler, refilled by the time that passed (a manual clock here).</summary>
public sealed class TxCreditSchedulerTests
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(10);
    private readonly ManualClock _clock = new();

    private TxCreditScheduler Rate(ulong bytes) => new(bytes, (ulong)Period.TotalMicroseconds, _clock);

    [Fact]
    public void Credit_is_taken_until_exhausted_then_a_packet_waits_the_rest_of_the_period()
    {
        var credit = Rate(1000);
        Assert.True(credit.TryTake(600));
        Assert.False(credit.TryTake(600));
        Assert.Equal(400, credit.Remaining);
        Assert.Equal(Period, credit.Wait);

        _clock.Advance(TimeSpan.FromMilliseconds(4));
        Assert.False(credit.TryTake(600));
        Assert.Equal(TimeSpan.FromMilliseconds(6), credit.Wait);

        _clock.Advance(TimeSpan.FromMilliseconds(6));
        Assert.True(credit.TryTake(600));
        Assert.Equal(800, credit.Remaining);
    }

    [Fact]
    public void A_packet_larger_than_one_period_s_credit_passes_once_enough_periods_have_passed()
    {
        var credit = Rate(1000);
        Assert.False(credit.TryTake(2500));
        _clock.Advance(Period);
        Assert.False(credit.TryTake(2500));
        _clock.Advance(Period);
        Assert.True(credit.TryTake(2500));
        Assert.Equal(500, credit.Remaining);
    }

    [Fact]
    public void Credit_built_up_while_idle_is_bounded_by_the_burst()
    {
        var credit = Rate(1000);
        _clock.Advance(TimeSpan.FromHours(1));
        // Credit is refilled when a packet needs more than is left, as Linux's tx_credit_exceeded.
        Assert.True(credit.TryTake(2000));
        Assert.Equal(TxCreditScheduler.MinBurst - 2000, credit.Remaining);
        Assert.True(credit.TryTake((int)credit.Remaining));
        Assert.False(credit.TryTake(1));
    }

    [Fact]
    public void A_wait_counts_from_the_window_not_from_the_refusal()
    {
        var credit = Rate(1000);
        Assert.True(credit.TryTake(1000));
        _clock.Advance(TimeSpan.FromMilliseconds(25));
        Assert.True(credit.TryTake(1500));   // two whole periods earned
        Assert.False(credit.TryTake(600));
        Assert.Equal(TimeSpan.FromMilliseconds(5), credit.Wait);
    }

    [Fact]
    public void Covers_refills_by_elapsed_time_and_takes_nothing_until_told()
    {
        var credit = Rate(1000);
        Assert.True(credit.Covers(1000));
        Assert.Equal(1000, credit.Remaining);
        credit.Take(800);
        Assert.False(credit.Covers(300));
        _clock.Advance(Period);
        Assert.True(credit.Covers(300));
        Assert.Equal(1200, credit.Remaining);
    }

    [Fact]
    public void Over_many_periods_what_is_taken_is_the_rate()
    {
        // A sender that always has a packet waiting: whatever the packet size, over a second it gets a
        // second's worth of credit, not a packet per period.
        var credit = Rate(1000);
        long taken = 0;
        for (var step = 0; step < 1000; step++)
        {
            while (credit.TryTake(1514))
                taken += 1514;
            _clock.Advance(TimeSpan.FromMilliseconds(1));
        }
        // 100 periods of 1000 bytes, and the first period's credit given at once.
        Assert.InRange(taken, 100_000 - 1514, 101_000);
    }

    [Fact]
    public void The_largest_rate_a_toolstack_can_write_neither_overflows_nor_refuses()
    {
        var credit = new TxCreditScheduler(ulong.MaxValue, 1_000_000_000, _clock);
        Assert.True(credit.TryTake(65535));
        _clock.Advance(TimeSpan.FromDays(365 * 100));
        Assert.True(credit.TryTake(65535));
        Assert.Equal(long.MaxValue - 2 * 65535L, credit.Remaining);
        // A century of periods earned at once: saturated at the burst, not wrapped.
        Assert.True(credit.Wait > TimeSpan.Zero);
        Assert.Equal(long.MaxValue, credit.Remaining);
    }
}
