namespace Backend.Actors.Rings;

/// <summary>
/// Whether the daemon's TX rings take requests: open from the start, closed for good by the orderly stop
/// (<see cref="Xenbus.OrderlyStop"/>). Each TX pass enters before it reads its ring and leaves once the
/// frames it took are in packet buffers (the pool counts them out) or answered; so once the intake is
/// closed and no pass is inside, every frame ever taken from a TX ring is either delivered or holds a
/// buffer. Closing it is seen by every TX actor at its next pass, a vif's that connects during the stop
/// included, without a message that could arrive after the stop has looked (the quiesce message it
/// replaces could: a frame sent just before the stop was answered on its ring by a TX actor the message
/// had not reached yet, and lost when the actors stopped).
/// </summary>
/// <remarks>
/// A pass announces itself before it reads the flag and the stop closes the flag before it reads the
/// count, both with full fences (Interlocked): either the pass sees the intake closed and takes nothing,
/// or the stop sees the pass. One increment and one decrement per pass (a ring's worth of requests), not
/// per frame.
/// </remarks>
public sealed class TxIntake
{
    private int _closed;
    private int _passes;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Passes inside now.</summary>
    public int Passes => Volatile.Read(ref _passes);

    /// <summary>A pass may read its ring, until <see cref="Exit"/>; false once the intake is closed.</summary>
    public bool TryEnter()
    {
        Interlocked.Increment(ref _passes);
        if (Volatile.Read(ref _closed) == 0)
            return true;
        Interlocked.Decrement(ref _passes);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _passes);

    /// <summary>No pass reads a TX ring after the ones inside now have left.</summary>
    public void Close() => Interlocked.Exchange(ref _closed, 1);
}
