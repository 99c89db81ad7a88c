namespace Backend.Actors.Vif;

/// <summary>
/// One ring's part in its event channel's late EOI (XSA-332): at most one notification outstanding per
/// ring. The port's <see cref="RingEventHandler"/> tells the ring actor only when the latch is idle; the
/// actor takes the notification before it drains (saying whether its ring had news), and is done with it
/// once nothing of that drain is under way. The latch outlives a restart of its ring actor, so that a
/// notification taken by an incarnation that failed is done with by the next, which drains at once
/// (PostRestart): the port is never left masked by a restart.
/// <para>
/// A notification that comes while the ring is busy with the one it took is not told again, but it is
/// not covered by the drain under way either: that drain may already have had its last look at the ring
/// (the final check that re-armed <c>req_event</c>), and the requests the guest pushed since are what the
/// notification is about. So the latch remembers it (Missed), and <see cref="TryFinish"/> then says to
/// drain once more before the ring is done, as Linux's NAPI polls again for an interrupt that came while
/// it was scheduled (<c>NAPIF_STATE_MISSED</c>). Saying nothing lost the guest's wake-up: its ring stayed
/// full and untouched with <c>req_event</c> behind it (docs/performance/stalls/README.md).
/// </para>
/// </summary>
public sealed class RingEventLatch
{
    private const int Idle = 0;
    private const int Told = 1;
    private const int Taken = 2;
    private const int Missed = 3;

    private int _state;
    private RingEventHandler? _handler;
    private int _bit;
    // Written and read by the ring actor only.
    private uint _reqProdAtLastTake;

    /// <summary>Joins the latch to its port's handler, before the port is bound.</summary>
    internal void Attach(RingEventHandler handler, int bit)
    {
        _handler = handler;
        _bit = bit;
    }

    /// <summary>
    /// The handler's side: true when the ring actor is to be told (nothing outstanding). A ring that has
    /// taken a notification and not finished it is marked to drain again instead; one told and not yet
    /// taken will drain after this notification anyway.
    /// </summary>
    internal bool TryTell()
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Idle:
                    if (Interlocked.CompareExchange(ref _state, Told, Idle) == Idle)
                        return true;
                    break;
                case Taken:
                    if (Interlocked.CompareExchange(ref _state, Missed, Taken) == Taken)
                        return false;
                    break;
                default:
                    return false;
            }
        }
    }

    /// <summary>
    /// The ring actor takes the notification, with the ring's <c>req_prod</c> as it finds it: a notification
    /// after which the frontend had pushed nothing new is spurious (<see cref="RingEventHandler"/>).
    /// </summary>
    public void Take(uint reqProd)
    {
        var news = reqProd != _reqProdAtLastTake;
        _reqProdAtLastTake = reqProd;
        if (Interlocked.CompareExchange(ref _state, Taken, Told) == Told)
            _handler!.RingTaken(_bit, news);
    }

    /// <summary>
    /// The ring actor, with nothing of its drain under way, is done with the notification it took, if it
    /// took one. False when another notification came meanwhile: the ring still holds one and must drain
    /// again (and call this again after that drain) before the port may be unmasked for it.
    /// </summary>
    public bool TryFinish()
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Taken:
                    // Idle before the port can be unmasked: its next event finds the latch ready.
                    if (Interlocked.CompareExchange(ref _state, Idle, Taken) == Taken)
                    {
                        _handler!.RingDone();
                        return true;
                    }
                    break;
                case Missed:
                    if (Interlocked.CompareExchange(ref _state, Taken, Missed) == Missed)
                        return false;
                    break;
                default:
                    return true;
            }
        }
    }
}
