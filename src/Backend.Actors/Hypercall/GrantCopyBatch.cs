using Akka.Actor;
using Backend.Xen.Buffers;
using Backend.Xen.Grants;

namespace Backend.Actors.Hypercall;

/// <summary>
/// A batch of grant copies: the data-path message between a ring actor and its hypercall actor. A ring
/// actor owns one and reuses it for every drain (it has at most one in flight), so sending it allocates
/// nothing; the hypercall actor fills in each segment's status and sends the same object back.
/// <para>
/// A ring actor that stops (or restarts) while its batch is away cannot take its frames' buffers back
/// itself: the copy may be writing them (TX) or reading them (RX), and a buffer handed to another frame
/// meanwhile would be corrupted, or leak one guest's frame into another's ring. It gives the batch up
/// instead (<see cref="Abandon"/>), and the buffers go back to the pool as soon as no copy can touch
/// them: at once when the copy has not begun (it then never will) or is over, else when it ends.
/// </para>
/// </summary>
public sealed class GrantCopyBatch(int capacity, IActorRef owner)
{
    private const int Idle = 0;
    private const int Copying = 1;
    private const int Abandoned = 2;

    private int _state;
    private IReadOnlyList<PacketBuffer>? _abandoned;

    public GrantCopySegment[] Segments { get; } = new GrantCopySegment[capacity];

    public int Count { get; set; }

    /// <summary>Who gets the batch back once copied.</summary>
    public IActorRef Owner { get; } = owner;

    public int Capacity => Segments.Length;

    public int Free => Segments.Length - Count;

    public Span<GrantCopySegment> Used => Segments.AsSpan(0, Count);

    /// <summary>Room for the caller to plan into; it then advances <see cref="Count"/>.</summary>
    public Span<GrantCopySegment> Remaining => Segments.AsSpan(Count);

    /// <summary>The hypercall actor, before it copies: false when the owner has given the batch up (skip it).</summary>
    internal bool TryBeginCopy() => Interlocked.CompareExchange(ref _state, Copying, Idle) == Idle;

    /// <summary>
    /// The hypercall actor, after the copy: true to send the batch back; false when the owner gave it up
    /// during the copy, whose buffers are then returned here.
    /// </summary>
    internal bool EndCopy()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Copying) == Copying)
            return true;
        ReturnAbandoned();
        return false;
    }

    /// <summary>
    /// The owner, stopping with the batch away: <paramref name="buffers"/> (its frames in the batch) go back
    /// to the pool once no copy can touch them. The batch is never used again.
    /// </summary>
    public void Abandon(IReadOnlyList<PacketBuffer> buffers)
    {
        _abandoned = buffers;
        // Not copying now: either the copy is over, or it has not begun and TryBeginCopy will refuse it.
        if (Interlocked.Exchange(ref _state, Abandoned) != Copying)
            ReturnAbandoned();
    }

    private void ReturnAbandoned()
    {
        var buffers = _abandoned!;
        for (var i = 0; i < buffers.Count; i++)
            buffers[i].Return();
    }
}
