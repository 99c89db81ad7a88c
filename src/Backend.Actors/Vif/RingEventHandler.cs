using Akka.Actor;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Xen.EventChannels;

namespace Backend.Actors.Vif;

/// <summary>
/// Turns an event-channel notification into a <see cref="RingEvent.Notification"/> for the ring actors of
/// the port (both of them when the frontend uses one channel), on a port bound with a late EOI, as Linux's
/// xen-netback since XSA-332: the port stays masked until every ring told is done with its drain
/// (<see cref="RingEventLatch"/>), so a guest that notifies in a loop costs the event-channel thread nothing
/// meanwhile and puts at most one message in each ring actor's mailbox. A notification after which no ring
/// had anything new is spurious: counted, and, from the second of a run on, its unmask is delayed, 1 ms
/// doubling up to 1 s, as Linux's <c>xen_irq_lateeoi</c> with <c>XEN_EOI_FLAG_SPURIOUS</c> does (in
/// jiffies); a notification with news ends the run. Runs on the platform's receive loop: it only tells.
/// </summary>
public sealed class RingEventHandler : IEventChannelHandler
{
    /// <summary>The longest a spurious run delays an unmask (Linux: a second).</summary>
    public static readonly TimeSpan MaxThrottle = TimeSpan.FromSeconds(1);

    private readonly IEventChannels _channels;
    private readonly VifStatus _status;
    private readonly TimeProvider _time;
    private readonly IActorRef _first;
    private readonly RingEventLatch _firstLatch;
    private readonly IActorRef? _second;
    private readonly RingEventLatch? _secondLatch;
    private readonly int _allRings;
    // Rings told of the last notification that are not done with it yet, one bit each.
    private int _owed;
    private int _news;
    // Touched only by whoever finishes a notification, and notifications do not overlap (the mask).
    private int _spuriousRun;
    private uint _port;
    private ITimer? _throttle;

    /// <param name="second">The RX ring actor when the frontend uses one channel for both rings.</param>
    public RingEventHandler(
        IEventChannels channels, VifStatus status, IActorRef first, RingEventLatch firstLatch,
        IActorRef? second = null, RingEventLatch? secondLatch = null, TimeProvider? time = null)
    {
        if ((second is null) != (secondLatch is null))
            throw new ArgumentException("a second ring comes with its latch", nameof(secondLatch));
        _channels = channels;
        _status = status;
        _time = time ?? TimeProvider.System;
        _first = first;
        _firstLatch = firstLatch;
        _second = second;
        _secondLatch = secondLatch;
        firstLatch.Attach(this, 1);
        secondLatch?.Attach(this, 2);
        _allRings = second is null ? 1 : 3;
    }

    public void OnEvent(uint localPort)
    {
        _port = localPort;
        Interlocked.Increment(ref _status.Events);
        Volatile.Write(ref _news, 0);
        Interlocked.Exchange(ref _owed, _allRings);
        // A ring whose latch is not idle still has a notification to be done with: it pays this one too.
        if (_firstLatch.TryTell())
            _first.Tell(RingEvent.Notification);
        if (_secondLatch?.TryTell() == true)
            _second!.Tell(RingEvent.Notification);
    }

    /// <summary>A ring is done with the last notification; the last one to be unmasks the port, or has it unmasked later.</summary>
    internal void RingDone(int bit, bool news)
    {
        if (news)
            Volatile.Write(ref _news, 1);
        var before = Interlocked.And(ref _owed, ~bit);
        if ((before & bit) == 0 || (before & ~bit) != 0)
            return;
        if (Volatile.Read(ref _news) != 0)
        {
            _spuriousRun = 0;
            // Last: on the simulated platform an event held while masked is delivered inside it.
            _channels.LateEoi(_port, this);
            return;
        }
        Interlocked.Increment(ref _status.SpuriousEvents);
        var delay = ThrottleDelay(++_spuriousRun);
        if (delay == TimeSpan.Zero)
        {
            _channels.LateEoi(_port, this);
            return;
        }
        _throttle ??= _time.CreateTimer(static h => ((RingEventHandler)h!).ThrottledEoi(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _throttle.Change(delay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>How long the unmask after the <paramref name="run"/>-th spurious notification in a row waits.</summary>
    public static TimeSpan ThrottleDelay(int run) =>
        run < 2 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(1 << Math.Min(run - 2, 10), MaxThrottle.TotalMilliseconds));

    private void ThrottledEoi()
    {
        try
        {
            _channels.LateEoi(_port, this);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The platform failed or is gone (the daemon stops): no port is left to unmask, and a timer
            // thread has nobody to tell.
        }
    }
}
