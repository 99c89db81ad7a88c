namespace Backend.Actors.Vif;

/// <summary>
/// One ring's part in its event channel's late EOI (XSA-332): at most one notification outstanding per
/// ring. The port's <see cref="RingEventHandler"/> tells the ring actor only when the latch is idle; the
/// actor takes the notification before it drains (saying whether its ring had news), and is done with it
/// once nothing of that drain is under way. The latch outlives a restart of its ring actor, so that a
/// notification taken by an incarnation that failed is done with by the next, which drains at once
/// (PostRestart): the port is never left masked by a restart.
/// </summary>
public sealed class RingEventLatch
{
    private const int Idle = 0;
    private const int Told = 1;
    private const int Taken = 2;

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

    /// <summary>The handler's side: true when the ring actor is to be told (nothing outstanding).</summary>
    internal bool TryTell() => Interlocked.CompareExchange(ref _state, Told, Idle) == Idle;

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

    /// <summary>The ring actor is done with the notification it took, if it took one.</summary>
    public void Done()
    {
        // Idle before the port can be unmasked: its next event finds the latch ready.
        if (Interlocked.CompareExchange(ref _state, Idle, Taken) == Taken)
            _handler!.RingDone();
    }
}
