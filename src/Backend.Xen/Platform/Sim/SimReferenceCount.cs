namespace Backend.Xen.Platform.Sim;

/// <summary>
/// The holders of a shared SIMXEN resource (a mapped file, a foreign domain, a notification target): it
/// starts with its creator's reference, and once the last one is released it can never be taken again,
/// so that a cache that still finds it opens a fresh one instead of reviving what is being torn down.
/// Held as a field (a mutable struct: never copied).
/// </summary>
internal struct SimReferenceCount
{
    private int _count;

    /// <summary>One reference, the creator's.</summary>
    public static SimReferenceCount One => new() { _count = 1 };

    /// <summary>Takes one more reference; false when the last one has already been released.</summary>
    public bool TryAdd()
    {
        var current = Volatile.Read(ref _count);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _count, current + 1, current);
            if (seen == current)
                return true;
            current = seen;
        }
        return false;
    }

    /// <summary>Releases one reference: the references left, 0 for the last, negative for one too many.</summary>
    public int Release() => Interlocked.Decrement(ref _count);
}
