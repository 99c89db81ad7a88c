using Akka.Actor;
using Backend.Xen.Grants;

namespace Backend.Actors.Hypercall;

/// <summary>
/// A ring's grant copies on their way to its lane's hypercall actor and back: the data-path message
/// between a ring actor and the hypercall actor. A ring actor makes one for its queue's copies
/// (<see cref="Ops"/>, reused for every pass, at most one pass's away) and sends the same object every
/// time, so sending allocates nothing; the hypercall actor runs the copies, which writes every segment's
/// status in place, and sends the message back to <see cref="Owner"/>. A ring actor that stops with its
/// copies away gives them up through <see cref="GrantCopyOps.Abandon"/>, and the hypercall actor then
/// neither runs them nor sends them back.
/// </summary>
public sealed record GrantCopyBatch(GrantCopyOps Ops, IActorRef Owner)
{
    /// <summary>The segments of the pass.</summary>
    public Span<GrantCopySegment> Used => Ops.Used;
}
