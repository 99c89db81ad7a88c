namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Other domains' pending bitmaps and sockets, per domain id. <see cref="Acquire"/> with revalidation
/// looks at the path (one stat) and re-opens a file that was replaced or forgets a domain that is gone;
/// without it the cached target is used as it is (the backend revalidates when it binds).
/// </summary>
internal sealed class SimNotifyTargets : IDisposable
{
    private readonly SimRoot _root;
    private readonly Slot?[] _slots = new Slot?[SimRoot.DomIdFirstReserved];
    private readonly Lock _gate = new();
    private bool _disposed;

    public SimNotifyTargets(SimRoot root) => _root = root;

    /// <summary>A target with a reference to release, or null when the domain is not there.</summary>
    public SimNotifyTarget? Acquire(ushort domid, bool revalidate)
    {
        if (domid >= SimRoot.DomIdFirstReserved)
            return null;
        var slot = Volatile.Read(ref _slots[domid]) ?? CreateSlot(domid);
        if (!revalidate)
        {
            var cached = Volatile.Read(ref slot.Current);
            if (cached is not null && cached.TryAddReference())
                return cached;
        }
        var present = SimNative.TryStat(slot.PendingPath, out var identity);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var current = slot.Current;
            if (!present)
            {
                Forget(slot);
                return null;
            }
            if (current is null || current.Identity.Device != identity.Device || current.Identity.Inode != identity.Inode)
            {
                Forget(slot);
                var file = SimMappedFile.TryOpen(slot.PendingName, SimEventChannelPending.FileSize, wholePages: false, keepDescriptor: false);
                if (file is null)
                    return null;
                current = new SimNotifyTarget(domid, new SimEventChannelPending(file), slot.Address);
                Volatile.Write(ref slot.Current, current);
            }
            current.TryAddReference();
            return current;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var slot in _slots)
            {
                if (slot is not null)
                    Forget(slot);
            }
        }
    }

    private static void Forget(Slot slot)
    {
        var current = slot.Current;
        Volatile.Write(ref slot.Current, null);
        current?.Release();
    }

    private Slot CreateSlot(ushort domid)
    {
        var pending = _root.DomainFile(domid, SimRoot.EventChannelPendingFile);
        var slot = new Slot(SimNative.PathBytes(pending), pending, new SimSocketAddress(_root.DomainFile(domid, SimRoot.EventChannelSocket)));
        return Interlocked.CompareExchange(ref _slots[domid], slot, null) ?? slot;
    }

    private sealed class Slot(byte[] pendingPath, string pendingName, SimSocketAddress address)
    {
        public readonly byte[] PendingPath = pendingPath;
        public readonly string PendingName = pendingName;
        public readonly SimSocketAddress Address = address;
        public SimNotifyTarget? Current;
    }
}
