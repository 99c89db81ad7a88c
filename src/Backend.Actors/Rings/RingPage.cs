using Backend.Xen.Grants;

namespace Backend.Actors.Rings;

/// <summary>
/// A mapped ring page held by the connection actor that mapped it and by the ring actor that drains it;
/// unmapped when the last holder lets go. A ring actor lets go in its final PostStop, on its own thread
/// after its last message, so no drain can read a page that is gone, whatever order the actors stop
/// in (a vif's tree stopping with its parent, the parent restarting while the ring actor is mid-drain,
/// the actor system shutting down). A restart of the ring actor keeps its hold: the next incarnation
/// drains the same ring.
/// </summary>
public sealed class RingPage
{
    private readonly IGrantMapping _mapping;
    private int _holders = 1;

    /// <summary>Takes over <paramref name="mapping"/>; the caller is its first holder.</summary>
    public RingPage(IGrantMapping mapping)
    {
        _mapping = mapping;
        Address = mapping.Address;
    }

    /// <summary>Start of the page; valid while this holder has not released it.</summary>
    public nint Address { get; }

    /// <summary>One more holder (a ring actor about to be created); it must call <see cref="Release"/> once.</summary>
    public RingPage AddHolder()
    {
        if (Interlocked.Increment(ref _holders) <= 1)
            throw new InvalidOperationException("ring page already unmapped");
        return this;
    }

    /// <summary>Lets go of one hold; the last unmaps the page.</summary>
    public void Release()
    {
        var left = Interlocked.Decrement(ref _holders);
        if (left == 0)
            _mapping.Dispose();
    }
}
