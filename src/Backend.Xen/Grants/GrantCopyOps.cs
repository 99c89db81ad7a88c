using Backend.Xen.Buffers;

namespace Backend.Xen.Grants;

/// <summary>
/// The grant copies of one pass over a ring (Linux's <c>tx_copy_ops</c> and the RX <c>copy.op</c> array,
/// FreeBSD's <c>gnttab</c>): a ring's queue plans into it, a copier runs it (<see cref="CopyWith"/>), and
/// the queue reads every segment's status. A queue owns one and reuses it for every pass; at most one
/// pass's copies are away at a time.
/// <para>
/// The copier may run on another thread than the queue's owner (a lane's hypercall actor). An owner that
/// stops while its copies are away cannot take its frames' buffers back itself: the copy may be writing
/// them (TX) or reading them (RX), and a buffer handed to another frame meanwhile would be corrupted, or
/// leak one guest's frame into another's ring. It gives the copies up instead (<see cref="Abandon"/>), and
/// the buffers go back to the pool as soon as no copy can touch them: at once when the copy has not begun
/// (it then never will) or is over, else when it ends. Owner and copier move the state
/// (Idle, Copying, Abandoned) with compare-and-swap, so neither order of the two loses or doubles a buffer.
/// </para>
/// </summary>
public sealed class GrantCopyOps(int capacity)
{
    private const int Idle = 0;
    private const int Copying = 1;
    private const int Abandoned = 2;

    private int _state;
    private IReadOnlyList<PacketBuffer>? _abandoned;

    public GrantCopySegment[] Segments { get; } = new GrantCopySegment[capacity];

    /// <summary>Segments planned so far in this pass.</summary>
    public int Count { get; set; }

    public int Capacity => Segments.Length;

    public int Free => Segments.Length - Count;

    public Span<GrantCopySegment> Used => Segments.AsSpan(0, Count);

    /// <summary>Room for the caller to plan into; it then advances <see cref="Count"/>.</summary>
    public Span<GrantCopySegment> Remaining => Segments.AsSpan(Count);

    /// <summary>
    /// The copier's side: runs the copies unless the owner has given them up. True when the owner is to
    /// get them back (they ran, each segment has its status); false when the owner gave them up, before
    /// (nothing was copied) or during the copy (its buffers are returned here, now that it is over).
    /// </summary>
    /// <param name="copier">Runs the copies.</param>
    /// <param name="failedErrno">The copier's <see cref="IGrantCopier.LastBatchErrno"/> when this copy
    /// failed as a whole, else 0 (also when nothing was copied).</param>
    public bool CopyWith(IGrantCopier copier, out int failedErrno)
    {
        ArgumentNullException.ThrowIfNull(copier);
        failedErrno = 0;
        if (Interlocked.CompareExchange(ref _state, Copying, Idle) != Idle)
            return false;
        var done = false;
        try
        {
            if (Count > 0)
            {
                copier.Copy(Used);
                failedErrno = copier.LastBatchErrno;
            }
        }
        finally
        {
            done = Interlocked.CompareExchange(ref _state, Idle, Copying) == Copying;
            if (!done)
                ReturnAbandoned();
        }
        return done;
    }

    /// <summary>
    /// The owner, stopping with its copies away: <paramref name="buffers"/> (its frames in them) go back to
    /// the pool once no copy can touch them. The copies are never used again.
    /// </summary>
    public void Abandon(IReadOnlyList<PacketBuffer> buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        _abandoned = buffers;
        // Not copying now: either the copy is over, or it has not begun and CopyWith will refuse it.
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
