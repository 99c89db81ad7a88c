namespace Backend.Xen.Platform.Sim;

/// <summary>
/// The granting side of a guest's grant table: grant references from 8 up (0 to 7 are reserved),
/// granting frames and ending access as Linux's grant-table driver does.
/// </summary>
public sealed class SimGranter
{
    private readonly SimGrantTable _table;
    private readonly Stack<uint> _free = new(SimRoot.GrantEntries - SimRoot.ReservedGrantReferences);
    private readonly Lock _gate = new();

    internal SimGranter(SimGrantTable table)
    {
        _table = table;
        for (var r = (uint)SimRoot.GrantEntries - 1; r >= SimRoot.ReservedGrantReferences; r--)
            _free.Push(r);
    }

    /// <summary>A free grant reference (8 or above); throws when all 8184 are in use.</summary>
    public uint AllocateReference()
    {
        lock (_gate)
        {
            if (_free.Count == 0)
                throw new InvalidOperationException("every grant reference of this guest is in use");
            return _free.Pop();
        }
    }

    /// <summary>Returns a reference whose access has ended.</summary>
    public void FreeReference(uint gref)
    {
        CheckReference(gref);
        lock (_gate)
            _free.Push(gref);
    }

    /// <summary>Grants <paramref name="frame"/> to domain <paramref name="domid"/> under <paramref name="gref"/>.</summary>
    public void Grant(uint gref, uint frame, ushort domid, bool readOnly)
    {
        CheckReference(gref);
        _table.Grant(gref, frame, domid, readOnly);
    }

    /// <summary>Ends access; false when the grant is still in use (GTF_reading or GTF_writing set).</summary>
    public bool EndAccess(uint gref)
    {
        CheckReference(gref);
        return _table.EndAccess(gref);
    }

    /// <summary>The entry as it is now.</summary>
    public (ushort Flags, ushort DomId, uint Frame) ReadEntry(uint gref) => _table.ReadEntry(gref);

    private static void CheckReference(uint gref)
    {
        if (gref < SimRoot.ReservedGrantReferences || gref >= SimRoot.GrantEntries)
            throw new ArgumentOutOfRangeException(nameof(gref), gref, "grant references 8 to 8191 are usable");
    }
}
