using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;
using System.Reflection;

namespace Backend.Actors.Scheduling;

/// <summary>
/// Akka's scheduler (<c>akka.scheduler.implementation</c>) for the daemon's actor system: one dedicated thread that
/// sleeps until the earliest deadline instead of ticking. Akka's default, the hashed wheel timer, wakes every
/// <c>akka.scheduler.tick-duration</c> (10 ms) for ever once anything has been scheduled, through
/// <c>Task.Delay</c>, so each tick wakes a thread-pool worker that spins before it sleeps again; with the cluster
/// on (gossip, heartbeats, DistributedData) that was 14,000 context switches a second on an idle daemon and a
/// higher ping-pong p99 (issue 17). Here an idle daemon's scheduler thread wakes only when something is due.
/// </summary>
/// <remarks>
/// Semantics kept from the hashed wheel timer: work runs on the scheduler's thread in deadline order (in order of
/// scheduling for equal deadlines); a cancelled <see cref="ICancelable"/> skips the run and ends a repeated schedule;
/// a repeated schedule whose run throws is logged and not repeated; the clocks are Akka's monotonic clocks; on
/// dispose (the actor system's termination) outstanding uncancelled work runs once and later schedules throw
/// <see cref="SchedulerException"/>. Work is never run before its deadline, and late only by the operating
/// system's wake-up latency (about 1 ms) instead of up to a tick.
/// </remarks>
public sealed class DeadlineScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    /// <summary>HOCON that makes an actor system use this scheduler.</summary>
    public const string Hocon = "akka.scheduler.implementation = \"Backend.Actors.Scheduling.DeadlineScheduler, Backend.Actors\"\n";

    private readonly object _gate = new();
    // (deadline, order): PriorityQueue is not stable, and equal deadlines must run in the order they were scheduled.
    private readonly PriorityQueue<ScheduledWork, (long Deadline, long Order)> _pending = new();
    private readonly List<ScheduledWork> _due = new();
    private readonly TimeSpan _shutdownTimeout;
    private readonly Thread _thread;
    private long _order;
    private bool _stopping;
    private long _wakeups;

    /// <summary>
    /// Akka's own monotonic clocks (<c>Akka.Util.MonotonicClock</c>, internal to Akka): Akka compares the scheduler's
    /// clock with readings it takes itself, so a clock of our own with another origin would be wrong.
    /// </summary>
    private static class Clock
    {
        private static readonly Type Type = typeof(ActorSystem).Assembly.GetType("Akka.Util.MonotonicClock", throwOnError: true)!;
        public static readonly Func<TimeSpan> Elapsed = Getter("Elapsed");
        public static readonly Func<TimeSpan> ElapsedHighRes = Getter("ElapsedHighRes");

        private static Func<TimeSpan> Getter(string name) =>
            Type.GetProperty(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)?.GetMethod?.CreateDelegate<Func<TimeSpan>>()
            ?? throw new MissingMemberException("Akka.Util.MonotonicClock", name);
    }

    public DeadlineScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log)
    {
        _shutdownTimeout = SchedulerConfig.GetTimeSpan("akka.scheduler.shutdown-timeout", TimeSpan.FromSeconds(5));
        _thread = new Thread(Run) { IsBackground = true, Name = "akka-deadline-scheduler" };
        _thread.Start();
    }

    /// <summary>How often the scheduler's thread has woken up: what issue 17 was about, for tests.</summary>
    internal long Wakeups => Interlocked.Read(ref _wakeups);

    protected override DateTimeOffset TimeNow => DateTimeOffset.Now;

    public override TimeSpan MonotonicClock => Clock.Elapsed();

    public override TimeSpan HighResMonotonicClock => Clock.ElapsedHighRes();

    private long Now => HighResMonotonicClock.Ticks;

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(ScheduledWork.Tell(receiver, message, sender, cancelable, DeadlineAfter(delay), 0));

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message,
        IActorRef sender, ICancelable cancelable) =>
        Add(ScheduledWork.Tell(receiver, message, sender, cancelable, DeadlineAfter(initialDelay), interval.Ticks));

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) =>
        Add(ScheduledWork.Of(action, cancelable, DeadlineAfter(delay), 0));

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) =>
        Add(ScheduledWork.Of(action, cancelable, DeadlineAfter(delay), 0));

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Add(ScheduledWork.Of(action, cancelable, DeadlineAfter(initialDelay), interval.Ticks));

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Add(ScheduledWork.Of(action, cancelable, DeadlineAfter(initialDelay), interval.Ticks));

    private void Add(ScheduledWork work)
    {
        lock (_gate)
        {
            if (_stopping)
                throw new SchedulerException("cannot enqueue after timer shutdown");
            // Wake the thread only when its current sleep would overshoot the new deadline.
            if (!_pending.TryPeek(out _, out var head) || work.Deadline < head.Deadline)
                Monitor.Pulse(_gate);
            _pending.Enqueue(work, (work.Deadline, _order++));
        }
    }

    private void Run()
    {
        while (true)
        {
            long now;
            lock (_gate)
            {
                while (true)
                {
                    if (_stopping)
                        return;
                    if (_pending.TryPeek(out _, out var head))
                    {
                        var wait = head.Deadline - Now;
                        if (wait <= 0)
                            break;
                        Monitor.Wait(_gate, WaitMilliseconds(wait));
                    }
                    else
                    {
                        Monitor.Wait(_gate);
                    }
                    Interlocked.Increment(ref _wakeups);
                }
                now = Now;
                while (_pending.TryPeek(out var work, out var key) && key.Deadline <= now)
                {
                    _pending.Dequeue();
                    _due.Add(work);
                }
            }
            // Outside the lock: a run may schedule (a timer actor re-arming itself) and must not wait for us.
            foreach (var work in _due)
                Execute(work, now);
            _due.Clear();
        }
    }

    /// <summary>Whole milliseconds, rounded up so a wait never ends before the deadline it waits for.</summary>
    internal static int WaitMilliseconds(long ticks) =>
        (int)Math.Min(ticks / TimeSpan.TicksPerMillisecond + (ticks % TimeSpan.TicksPerMillisecond == 0 ? 0 : 1), int.MaxValue - 1);

    /// <summary>Now plus a delay, saturated: a delay of <see cref="TimeSpan.MaxValue"/> means never, not the past.</summary>
    private long DeadlineAfter(TimeSpan delay)
    {
        var now = Now;
        return delay.Ticks > long.MaxValue - now ? long.MaxValue : now + delay.Ticks;
    }

    private void Execute(ScheduledWork work, long now)
    {
        if (work.Cancelled)
            return;
        try
        {
            work.Run();
        }
        catch (Exception ex)
        {
            Log.Error(ex, "Error while executing scheduled task {0}", work);
            return;
        }
        if (work.Interval == 0 || work.Cancelled)
            return;
        // The next beat on the original grid; beats missed while the thread was late are skipped, not bunched.
        var next = work.Deadline > long.MaxValue - work.Interval ? long.MaxValue : work.Deadline + work.Interval;
        if (next <= now)
            next = now + work.Interval - (now - work.Deadline) % work.Interval;
        work.Deadline = next;
        lock (_gate)
        {
            if (!_stopping)
                _pending.Enqueue(work, (next, _order++));
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
                return;
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        if (!_thread.Join(_shutdownTimeout))
        {
            Log.Warning("Failed to shutdown scheduler within {0}", _shutdownTimeout);
            return;
        }
        // As Akka's own scheduler does: what was still pending runs once, so that e.g. a timeout still fires.
        List<ScheduledWork> outstanding;
        lock (_gate)
        {
            outstanding = new List<ScheduledWork>(_pending.Count);
            while (_pending.TryDequeue(out var work, out _))
                outstanding.Add(work);
        }
        foreach (var work in outstanding)
        {
            if (work.Cancelled)
                continue;
            try
            {
                work.Run();
            }
            catch (SchedulerException)
            {
                // From actors already terminated.
            }
            catch (Exception ex)
            {
                Log.Error(ex, "Exception while executing timer task.");
            }
        }
    }
}
