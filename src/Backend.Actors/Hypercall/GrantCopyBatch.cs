using Backend.Xen.Grants;
using Akka.Actor;

namespace Backend.Actors.Hypercall;

/// <summary>
/// A batch of grant copies: the data-path message between a ring actor and its hypercall actor. A ring
/// actor owns one and reuses it for every drain (it has at most one in flight), so sending it allocates
/// nothing; the hypercall actor fills in each segment's status and sends the same object back.
/// </summary>
public sealed class GrantCopyBatch(int capacity, IActorRef owner)
{
    public GrantCopySegment[] Segments { get; } = new GrantCopySegment[capacity];

    public int Count { get; set; }

    /// <summary>Who gets the batch back once copied.</summary>
    public IActorRef Owner { get; } = owner;

    public int Capacity => Segments.Length;

    public int Free => Segments.Length - Count;

    public Span<GrantCopySegment> Used => Segments.AsSpan(0, Count);

    /// <summary>Room for the caller to plan into; it then advances <see cref="Count"/>.</summary>
    public Span<GrantCopySegment> Remaining => Segments.AsSpan(Count);
}
