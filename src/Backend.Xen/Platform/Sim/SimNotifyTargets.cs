using Backend.Xen.Abi;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Other domains' pending bitmaps and sockets, per domain id. <see cref="Acquire"/> with revalidation
/// looks at the path (one stat) and re-opens a file that was replaced or forgets a domain that is gone;
/// without it the cached target is used as it is (the backend revalidates when it binds).
/// <para>
/// A guest's cache keeps a target mapped once opened (its one peer is the backend). The backend's keeps
/// one only while someone holds it: each binding holds its guest's target (<see cref="SimEventChannels"/>),
/// so a guest's bitmap is unmapped with its last binding, and a notification racing the unbind opens it
/// for itself alone. Otherwise a dead guest's file would stay mapped until its domid came back.
/// </para>
/// </summary>
internal sealed class SimNotifyTargets : IDisposable
{
    private readonly SimRoot _root;
    private readonly bool _keepOpened;
    private readonly Slot?[] _slots = new Slot?[DomId.FirstReserved];
    // A monitor, not a Lock: every guest notification takes it, from the sender's thread and the event
    // loop's, and a Lock's first blocking wait allocates (see SimNetfrontTx's gate).
    private readonly object _gate = new();
    private bool _disposed;

    /// <param name="root">The sim root.</param>
    /// <param name="keepOpened">The cache holds a reference to each current target (a guest), or none (the backend).</param>
    public SimNotifyTargets(SimRoot root, bool keepOpened)
    {
        _root = root;
        _keepOpened = keepOpened;
    }

    /// <summary>A target with a reference to release, or null when the domain is not there.</summary>
    public SimNotifyTarget? Acquire(ushort domid, bool revalidate)
    {
        if (domid >= DomId.FirstReserved)
            return null;
        var slot = Volatile.Read(ref _slots[domid]) ?? CreateSlot(domid);
        if (!revalidate)
        {
            var cached = Volatile.Read(ref slot.Current);
            if (cached is not null && cached.TryAddReference())
                return cached;
        }
        var present = FilePath.TryStat(slot.PendingPath, out var identity);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var current = slot.Current;
            if (!present)
            {
                Forget(slot);
                return null;
            }
            // Without the cache's own reference a target nobody holds is gone (count 0) and opened afresh.
            if (current is not null && current.Identity.Device == identity.Device && current.Identity.Inode == identity.Inode
                && current.TryAddReference())
                return current;
            Forget(slot);
            var file = SimMappedFile.TryOpen(slot.PendingName, SimEventChannelPending.FileSize, wholePages: false, keepDescriptor: false);
            if (file is null)
                return null;
            // Opened with one reference, the caller's; the cache's own on top when it keeps targets.
            try
            {
                current = new SimNotifyTarget(domid, new SimEventChannelPending(file), slot.Address);
            }
            catch
            {
                // No socket for it (out of descriptors): the mapping is not left behind.
                file.Release();
                throw;
            }
            if (_keepOpened)
                current.TryAddReference();
            Volatile.Write(ref slot.Current, current);
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

    private void Forget(Slot slot)
    {
        var current = slot.Current;
        Volatile.Write(ref slot.Current, null);
        if (_keepOpened)
            current?.Release();
    }

    private Slot CreateSlot(ushort domid)
    {
        var pending = _root.DomainFile(domid, SimRoot.EventChannelPendingFile);
        var slot = new Slot(FilePath.ToBytes(pending), pending, new SimSocketAddress(_root.DomainFile(domid, SimRoot.EventChannelSocket)));
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
