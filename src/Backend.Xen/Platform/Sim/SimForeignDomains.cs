namespace Backend.Xen.Platform.Sim;

/// <summary>
/// The grant tables and memory of other domains, opened lazily and shared by every copier and the mapper
/// of this process (so that our pin counts are one per reference). Each <see cref="Acquire"/> looks at
/// the domain's <c>grant-table</c> path: a different inode means the guest started afresh and its new
/// files are opened; no file means the domain is gone and it is forgotten.
/// </summary>
internal sealed class SimForeignDomains : IDisposable
{
    private const int OpenAttempts = 3;

    private readonly SimRoot _root;
    private readonly Slot?[] _slots = new Slot?[SimRoot.DomIdFirstReserved];
    private readonly Lock _gate = new();
    private bool _disposed;

    public SimForeignDomains(SimRoot root) => _root = root;

    /// <summary>
    /// The current files of <paramref name="domid"/> with a reference the caller must
    /// <see cref="SimForeignDomain.Release"/>, or null when it has no grant table (GNTST_bad_domain).
    /// </summary>
    public SimForeignDomain? Acquire(ushort domid)
    {
        if (domid >= SimRoot.DomIdFirstReserved)
            return null;
        var slot = Volatile.Read(ref _slots[domid]) ?? CreateSlot(domid);
        var present = SimNative.TryStat(slot.GrantTablePath, out var identity);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var current = slot.Current;
            if (!present)
            {
                Forget(slot);
                return null;
            }
            if (current is null || !SameFile(current.Identity, identity))
            {
                Forget(slot);
                current = Open(domid, slot);
                if (current is null)
                    return null;
                slot.Current = current;
            }
            // The cache holds a reference while it is current, so this cannot fail under the lock.
            current.TryAddReference();
            return current;
        }
    }

    /// <summary>Drops what we hold of <paramref name="domid"/> (users keep theirs until they release).</summary>
    public void Forget(ushort domid)
    {
        var slot = Volatile.Read(ref _slots[domid]);
        if (slot is null)
            return;
        lock (_gate)
            Forget(slot);
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

    private static bool SameFile(SimFileIdentity a, SimFileIdentity b) => a.Device == b.Device && a.Inode == b.Inode;

    private static void Forget(Slot slot)
    {
        var current = slot.Current;
        slot.Current = null;
        current?.Release();
    }

    private Slot CreateSlot(ushort domid)
    {
        var slot = new Slot(
            SimNative.PathBytes(_root.DomainFile(domid, SimRoot.GrantTableFile)),
            _root.DomainFile(domid, SimRoot.GrantTableFile),
            _root.DomainFile(domid, SimRoot.MemoryFile));
        return Interlocked.CompareExchange(ref _slots[domid], slot, null) ?? slot;
    }

    private static SimForeignDomain? Open(ushort domid, Slot slot)
    {
        // The guest creates memory before grant-table; if grant-table is replaced while we open the pair
        // we may hold an old table with new memory, so check the table is still the one at the path.
        for (var attempt = 0; attempt < OpenAttempts; attempt++)
        {
            var table = SimMappedFile.TryOpen(slot.GrantTableName, SimGrantTable.FileSize, wholePages: false, keepDescriptor: false);
            if (table is null)
                return null;
            SimMappedFile? memory = null;
            try
            {
                memory = SimMappedFile.TryOpen(slot.MemoryName, SimRoot.PageSize, wholePages: true, keepDescriptor: true);
            }
            catch
            {
                table.Release();
                throw;
            }
            if (SimNative.TryStat(slot.GrantTablePath, out var now) && SameFile(now, table.Identity))
                return new SimForeignDomain(domid, table, memory);
            table.Release();
            memory?.Release();
        }
        return null;
    }

    private sealed class Slot(byte[] grantTablePath, string grantTableName, string memoryName)
    {
        public byte[] GrantTablePath { get; } = grantTablePath;
        public string GrantTableName { get; } = grantTableName;
        public string MemoryName { get; } = memoryName;
        public SimForeignDomain? Current { get; set; }
    }
}
