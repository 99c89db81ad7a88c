using Akka.Actor;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Xen.EventChannels;

namespace Backend.Actors.Vif;

/// <summary>
/// Turns an event-channel notification into a <see cref="RingProtocol.RingEvent.Notification"/> for the ring actors of
/// the port (both of them when the frontend uses one channel), on a port bound with a late EOI, as Linux's
/// xen-netback since XSA-332. Each ring has at most one notification outstanding (<see cref="RingEventLatch"/>:
/// a ring still busy with an earlier one is not told again, it drains once more before it is done). The port stays
/// masked until every ring told has taken the notification and one ring of the port is done with its
/// drain (Linux's <c>NETBK_COMMON_EOI</c>: the first side to go idle unmasks), so a guest that notifies in a
/// loop costs the event-channel thread nothing meanwhile. A notification after which no ring told had
/// anything new (its <c>req_prod</c> had not moved) is spurious: counted, and from the second
/// of a run on, the unmask waits 1 ms, doubling up to 1 s, as Linux's <c>xen_irq_lateeoi</c> with
/// <c>XEN_EOI_FLAG_SPURIOUS</c> does (in jiffies); a notification with news ends the run. Runs on the
/// platform's receive loop: it only tells.
/// </summary>
public sealed class RingEventHandler : IEventChannelHandler
{
    /// <summary>The longest a spurious run delays an unmask (Linux: a second).</summary>
    public static readonly TimeSpan MaxThrottle = TimeSpan.FromSeconds(1);

    // The state of the last notification, in one word changed by compare-and-swap: the rings told that
    // have not taken it yet (their latch bits), whether a ring has been done since, whether the port is
    // still masked for it, and whether a ring had news.
    private const int Untaken = 3;
    private const int RingIdle = 4;
    private const int Masked = 8;
    private const int News = 16;

    private readonly IEventChannels _channels;
    private readonly VifStatus _status;
    private readonly TimeProvider _time;
    private readonly IActorRef _first;
    private readonly RingEventLatch _firstLatch;
    private readonly IActorRef? _second;
    private readonly RingEventLatch? _secondLatch;
    private int _state;
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
    }

    public void OnEvent(uint localPort)
    {
        _port = localPort;
        Interlocked.Increment(ref _status.Events);
        // Masked until judged and a ring is idle; a ring's drain that ended before this notification came
        // does not count.
        Interlocked.Exchange(ref _state, Masked);
        // A ring still busy with an earlier notification is not told (its latch has it drain again before
        // it is done) and has no say in the judgement: the rings told judge it. With none told, it is not
        // judged.
        var told = 0;
        if (_firstLatch.TryTell())
            told |= 1;
        if (_secondLatch?.TryTell() == true)
            told |= 2;
        Interlocked.Or(ref _state, told);
        if ((told & 1) != 0)
            _first.Tell(RingProtocol.RingEvent.Notification);
        if ((told & 2) != 0)
            _second!.Tell(RingProtocol.RingEvent.Notification);
    }

    /// <summary>A ring took the notification; the last one to take it judges it.</summary>
    internal void RingTaken(int bit, bool news)
    {
        int before, after;
        do
        {
            before = Volatile.Read(ref _state);
            after = (before & ~bit) | (news ? News : 0);
        }
        while (Interlocked.CompareExchange(ref _state, after, before) != before);
        if ((before & bit) == 0 || (after & Untaken) != 0)
            return;
        Judge((after & News) != 0);
        TryUnmask();
    }

    /// <summary>A ring is done with its drain.</summary>
    internal void RingDone()
    {
        Interlocked.Or(ref _state, RingIdle);
        TryUnmask();
    }

    /// <summary>How long the unmask after the <paramref name="run"/>-th spurious notification in a row waits.</summary>
    public static TimeSpan ThrottleDelay(int run) =>
        run < 2 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(1 << Math.Min(run - 2, 10), MaxThrottle.TotalMilliseconds));

    private void Judge(bool news)
    {
        if (news)
        {
            Volatile.Write(ref _spuriousRun, 0);
            return;
        }
        Interlocked.Increment(ref _status.SpuriousEvents);
        Interlocked.Increment(ref _spuriousRun);
    }

    /// <summary>Unmasks the port, once, when the notification is judged and a ring is idle.</summary>
    private void TryUnmask()
    {
        int before;
        do
        {
            before = Volatile.Read(ref _state);
            if ((before & Masked) == 0 || (before & RingIdle) == 0 || (before & Untaken) != 0)
                return;
        }
        while (Interlocked.CompareExchange(ref _state, before & ~Masked, before) != before);
        var delay = ThrottleDelay(Volatile.Read(ref _spuriousRun));
        if (delay == TimeSpan.Zero)
        {
            // On the simulated platform an event held while masked is delivered inside this call.
            _channels.LateEoi(_port, this);
            return;
        }
        _throttle ??= _time.CreateTimer(static h => ((RingEventHandler)h!).ThrottledUnmask(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _throttle.Change(delay, Timeout.InfiniteTimeSpan);
    }

    private void ThrottledUnmask()
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
