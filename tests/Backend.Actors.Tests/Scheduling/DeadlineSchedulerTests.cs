using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Scheduling;
using Xunit;

namespace Backend.Actors.Tests.Scheduling;

/// <summary>
/// <see cref="DeadlineScheduler"/> keeps the semantics of Akka's hashed wheel timer (cancelation, repeats, order, the
/// run of outstanding work at shutdown) without its 10 ms tick: an idle scheduler does not wake up (issue 17).
/// </summary>
public sealed class DeadlineSchedulerTests : TestKit, IDisposable
{
    private readonly DeadlineScheduler _scheduler;

    // Akka's schedule methods are explicit interface implementations on SchedulerBase.
    private IScheduler Scheduler => _scheduler;

    public DeadlineSchedulerTests() : base(DeadlineScheduler.Hocon)
    {
        _scheduler = new DeadlineScheduler(Sys.Settings.Config, Sys.Log);
    }

    void IDisposable.Dispose()
    {
        _scheduler.Dispose();
        Dispose();
    }

    [Fact]
    public void Actor_system_configured_with_its_hocon_uses_it() =>
        Assert.IsType<DeadlineScheduler>(Sys.Scheduler);

    [Fact]
    public void Tell_once_arrives_not_before_its_delay()
    {
        var clock = Stopwatch.StartNew();
        Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(100), TestActor, "due", ActorRefs.NoSender);
        ExpectMsg("due", TimeSpan.FromSeconds(3));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(100), $"arrived after {clock.Elapsed.TotalMilliseconds} ms, before its 100 ms delay");
    }

    [Fact]
    public void Cancelled_tell_never_arrives()
    {
        var cancelable = Scheduler.ScheduleTellOnceCancelable(TimeSpan.FromMilliseconds(100), TestActor, "cancelled", ActorRefs.NoSender);
        cancelable.Cancel();
        ExpectNoMsg(TimeSpan.FromMilliseconds(400));
    }

    [Fact]
    public void Repeated_tell_repeats_until_cancelled()
    {
        var cancelable = Scheduler.ScheduleTellRepeatedlyCancelable(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(30),
            TestActor, "beat", ActorRefs.NoSender);
        for (var i = 0; i < 5; i++)
            ExpectMsg("beat", TimeSpan.FromSeconds(3));
        cancelable.Cancel();
        // A beat that was already told before the cancel may still be in the mailbox; none may follow it.
        ReceiveWhile(TimeSpan.FromMilliseconds(100), m => m);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Work_runs_in_deadline_order_whatever_the_order_of_scheduling()
    {
        Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(150), TestActor, "third", ActorRefs.NoSender);
        Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(50), TestActor, "first", ActorRefs.NoSender);
        Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(100), TestActor, "second", ActorRefs.NoSender);
        ExpectMsg("first", TimeSpan.FromSeconds(3));
        ExpectMsg("second", TimeSpan.FromSeconds(3));
        ExpectMsg("third", TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void Earlier_deadline_wakes_a_scheduler_sleeping_until_a_later_one()
    {
        Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(30), TestActor, "late", ActorRefs.NoSender);
        Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(50), TestActor, "early", ActorRefs.NoSender);
        ExpectMsg("early", TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Pending_far_deadline_costs_no_wake_ups()
    {
        // Akka's hashed wheel timer would tick 100 times in this second.
        Scheduler.ScheduleTellOnce(TimeSpan.FromMinutes(1), TestActor, "far", ActorRefs.NoSender);
        var before = _scheduler.Wakeups;
        await Task.Delay(TimeSpan.FromSeconds(1));
        var wakeups = _scheduler.Wakeups - before;
        // One for the pulse of the schedule itself, if the thread had not yet taken it when we read the count.
        Assert.True(wakeups <= 1, $"{wakeups} wake-ups in 1 s with only a deadline 1 min away pending");
    }

    [Fact]
    public void Work_is_never_early_and_late_by_less_than_a_hashed_wheel_tick()
    {
        var lateness = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var done = new ManualResetEventSlim();
            var late = 0.0;
            var clock = Stopwatch.StartNew();
            Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(20), () =>
            {
                late = clock.Elapsed.TotalMilliseconds - 20;
                done.Set();
            });
            Assert.True(done.Wait(TimeSpan.FromSeconds(3)), "a 20 ms schedule did not run within 3 s");
            lateness.Add(late);
        }
        lateness.Sort();
        Assert.True(lateness[0] >= 0, $"ran {-lateness[0]} ms before its deadline");
        // Akka's scheduler fires on its next 10 ms tick, late by 5 ms on average; we wake at the deadline itself.
        Assert.True(lateness[10] < 5, $"median lateness {lateness[10]} ms (all: {string.Join(", ", lateness)})");
    }

    [Fact]
    public void Repeated_action_that_throws_is_not_repeated_and_other_work_still_runs()
    {
        var runs = 0;
        Scheduler.Advanced.ScheduleRepeatedly(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20), () =>
        {
            Interlocked.Increment(ref runs);
            throw new InvalidOperationException("thrown on purpose by the test");
        });
        Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(100), TestActor, "after", ActorRefs.NoSender);
        ExpectMsg("after", TimeSpan.FromSeconds(3));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, Volatile.Read(ref runs));
    }

    [Fact]
    public void Dispose_runs_outstanding_work_once_and_refuses_new_work()
    {
        Scheduler.ScheduleTellOnce(TimeSpan.FromMinutes(1), TestActor, "outstanding", ActorRefs.NoSender);
        Scheduler.ScheduleTellOnceCancelable(TimeSpan.FromMinutes(1), TestActor, "cancelled", ActorRefs.NoSender).Cancel();
        _scheduler.Dispose();
        ExpectMsg("outstanding", TimeSpan.FromSeconds(3));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Throws<SchedulerException>(() => Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), TestActor, "refused", ActorRefs.NoSender));
    }

    [Fact]
    public void Delay_of_TimeSpan_MaxValue_never_comes()
    {
        Scheduler.ScheduleTellOnce(TimeSpan.MaxValue, TestActor, "never", ActorRefs.NoSender);
        Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(50), TestActor, "soon", ActorRefs.NoSender);
        ExpectMsg("soon", TimeSpan.FromSeconds(3));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(TimeSpan.TicksPerMillisecond, 1)]
    [InlineData(TimeSpan.TicksPerMillisecond + 1, 2)]
    [InlineData(long.MaxValue, int.MaxValue - 1)]
    public void Wait_rounds_up_to_whole_milliseconds(long ticks, int milliseconds) =>
        Assert.Equal(milliseconds, DeadlineScheduler.WaitMilliseconds(ticks));
}
