namespace Backend.Xen.XenStore;

/// <summary>
/// The wait before retrying something that failed for want of a resource (a descriptor, a server that is
/// not there yet): 10 ms, doubling at each failure up to 1 s, back to 10 ms after a success. Short enough
/// that a transient shortage costs little latency, long enough that a lasting one costs no CPU.
/// </summary>
internal struct XenStoreBackoff
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan Maximum = TimeSpan.FromSeconds(1);

    private TimeSpan _next;

    /// <summary>The wait before the next attempt; the one after will be twice as long, up to <see cref="Maximum"/>.</summary>
    public TimeSpan Next()
    {
        var delay = _next == TimeSpan.Zero ? Initial : _next;
        _next = delay * 2 > Maximum ? Maximum : delay * 2;
        return delay;
    }

    public void Reset() => _next = TimeSpan.Zero;
}
