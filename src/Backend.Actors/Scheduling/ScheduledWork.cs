using Akka.Actor;
using Akka.Dispatch;

namespace Backend.Actors.Scheduling;

/// <summary>
/// One entry of <see cref="DeadlineScheduler"/>: what to run (a tell, an action or a runnable), when (a deadline on
/// Akka's high-resolution monotonic clock, in ticks) and, for a repeated schedule, how often.
/// </summary>
internal sealed class ScheduledWork
{
    private readonly ICanTell? _receiver;
    private readonly object? _message;
    private readonly IActorRef? _sender;
    private readonly Action? _action;
    private readonly IRunnable? _runnable;

    private ScheduledWork(ICanTell? receiver, object? message, IActorRef? sender, Action? action, IRunnable? runnable,
        ICancelable? cancelable, long deadline, long interval)
    {
        _receiver = receiver;
        _message = message;
        _sender = sender;
        _action = action;
        _runnable = runnable;
        Cancelable = cancelable;
        Deadline = deadline;
        Interval = interval;
    }

    public static ScheduledWork Tell(ICanTell receiver, object message, IActorRef? sender, ICancelable? cancelable, long deadline, long interval) =>
        new(receiver, message, sender, null, null, cancelable, deadline, interval);

    public static ScheduledWork Of(Action action, ICancelable? cancelable, long deadline, long interval) =>
        new(null, null, null, action, null, cancelable, deadline, interval);

    public static ScheduledWork Of(IRunnable runnable, ICancelable? cancelable, long deadline, long interval) =>
        new(null, null, null, null, runnable, cancelable, deadline, interval);

    public ICancelable? Cancelable { get; }

    /// <summary>When it is due, in <see cref="TimeSpan"/> ticks of the scheduler's monotonic clock.</summary>
    public long Deadline { get; set; }

    /// <summary>The period of a repeated schedule in ticks; 0 for a single one.</summary>
    public long Interval { get; }

    public bool Cancelled => Cancelable?.IsCancellationRequested ?? false;

    public void Run()
    {
        if (_receiver is not null)
            _receiver.Tell(_message!, _sender);
        else if (_action is not null)
            _action();
        else
            _runnable!.Run();
    }

    public override string ToString() =>
        $"ScheduledWork(Deadline={Deadline}, Interval={Interval}, Cancelled={Cancelled}, Work={(object?)_receiver ?? (object?)_action ?? _runnable})";
}
