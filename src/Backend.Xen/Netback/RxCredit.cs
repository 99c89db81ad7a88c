using Backend.Xen.Xenbus;

namespace Backend.Xen.Netback;

/// <summary>
/// A vif's <c>rate</c> applied to what it receives, beyond Linux (whose netback limits only the guest's
/// transmit): the same credit arithmetic as the transmit side (<see cref="TxCreditScheduler"/>, refilled by
/// elapsed time, bursts up to Linux's <c>max_burst</c>), charged per frame by the RX queue, which leaves a
/// frame the credit does not cover queued. What waits is bounded as any frame for a slow guest is (the
/// RX queue's frames and bytes), so a sender faster than the rate loses the excess there, as at a shaper's
/// queue. When the queue stops for credit it asks for a wake-up (<see cref="WakeWhenDue"/>); the timer
/// calls <see cref="OnDue"/>, which the owner sets to kick the RX ring's actor.
/// Used by one RX queue at a time; only the timer's callback runs elsewhere, and it only calls <see cref="OnDue"/>.
/// </summary>
public sealed class RxCredit : IDisposable
{
    private readonly TxCreditScheduler _scheduler;
    private readonly ITimer _timer;
    private int _armed;
    private volatile bool _disposed;

    public RxCredit(RateLimit rate, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(rate);
        ArgumentNullException.ThrowIfNull(time);
        _scheduler = new TxCreditScheduler(rate.Bytes, rate.Microseconds, time);
        _timer = time.CreateTimer(static s => ((RxCredit)s!).Due(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Called from the timer's thread when credit that was short may be there: kick the queue's owner.</summary>
    public Action? OnDue { get; set; }

    /// <summary>Credit left in the current window.</summary>
    public long Remaining => _scheduler.Remaining;

    /// <summary>Whether the credit covers a frame of <paramref name="size"/> bytes now.</summary>
    public bool Covers(int size) => _scheduler.Covers(size);

    /// <summary>Charges a frame that <see cref="Covers"/> admitted and that was planned.</summary>
    public void Take(int size) => _scheduler.Take(size);

    /// <summary>Arms the wake-up for the next period's credit, unless it is armed already.</summary>
    public void WakeWhenDue()
    {
        // A queue whose connection went may take one more pass before its actor stops: no wake-up then.
        if (_disposed || Interlocked.Exchange(ref _armed, 1) != 0)
            return;
        try
        {
            _timer.Change(_scheduler.Wait, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile, as above.
        }
    }

    private void Due()
    {
        Volatile.Write(ref _armed, 0);
        OnDue?.Invoke();
    }

    public void Dispose()
    {
        _disposed = true;
        _timer.Dispose();
    }
}
