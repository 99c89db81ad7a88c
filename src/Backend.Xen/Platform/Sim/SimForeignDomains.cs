using Backend.Xen.Abi;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// The grant tables and memory of other domains, opened at their first use and shared by every copier and
/// the mapper of this process (so that our pin counts are one per reference). Each <see cref="Acquire"/>
/// looks at the domain's <c>grant-table</c> path: a different inode means the guest started afresh and
/// its new files are opened; no file means the domain is gone.
/// <para>
/// The cache itself holds no reference: a domain's files stay mapped while someone uses them (a ring
/// mapping, for as long as a vif of that guest is connected, or a copy in flight) and are unmapped by the
/// last <see cref="SimForeignDomain.Release"/>, on whichever thread lets go last. So a guest that dies is
/// let go of once its vifs are, with no call from the layers above, and a copy in flight keeps what it
/// uses; the next user opens the files again (SIMXEN: users re-open them at every connect).
/// </para>
/// </summary>
internal sealed class SimForeignDomains : IDisposable
{
    private const int OpenAttempts = 3;

    private readonly SimRoot _root;
    private readonly Slot?[] _slots = new Slot?[DomId.FirstReserved];
    private readonly Lock _gate = new();
    private bool _disposed;

    public SimForeignDomains(SimRoot root) => _root = root;

    /// <summary>
    /// The current files of <paramref name="domid"/> with a reference the caller must
    /// <see cref="SimForeignDomain.Release"/>, or null when it has no grant table (GNTST_bad_domain).
    /// </summary>
    public SimForeignDomain? Acquire(ushort domid)
    {
        if (domid >= DomId.FirstReserved)
            return null;
        var slot = Volatile.Read(ref _slots[domid]) ?? CreateSlot(domid);
        var present = FilePath.TryStat(slot.GrantTablePath, out var identity);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!present)
            {
                slot.Current = null;
                return null;
            }
            // Shared while it is the guest's current pair and still in use; once its last user let go
            // (the reference count reached 0, so it cannot be taken again) the files are opened afresh.
            var current = slot.Current;
            if (current is not null && SameFile(current.Identity, identity) && current.TryAddReference())
                return current;
            current = Open(domid, slot);
            slot.Current = current;
            return current;
        }
    }

    /// <summary>Refuses further use; the domains in use are unmapped as their users let go.</summary>
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
                    slot.Current = null;
            }
        }
    }

    private static bool SameFile(FileIdentity a, FileIdentity b) => a.Device == b.Device && a.Inode == b.Inode;

    private Slot CreateSlot(ushort domid)
    {
        var slot = new Slot(
            FilePath.ToBytes(_root.DomainFile(domid, SimRoot.GrantTableFile)),
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
            if (FilePath.TryStat(slot.GrantTablePath, out var now) && SameFile(now, table.Identity))
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
