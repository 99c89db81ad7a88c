using System.Runtime.CompilerServices;
using Backend.Xen.Grants;
using static Backend.Xen.Platform.Sim.SimGrantFlags;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// A domain's <c>grant-table</c> file: 8192 <c>grant_entry_v1_t</c> (<c>uint16 flags; uint16 domid;
/// uint32 frame</c>). The first 32-bit word of an entry is {flags (low half), domid (high half)}, the
/// word Xen's <c>_set_status_v1</c> compares and swaps.
/// </summary>
internal sealed class SimGrantTable(SimMappedFile file)
{
    public const int EntrySize = 8;
    public const int FileSize = SimRoot.GrantEntries * EntrySize;

    /// <summary>"shared grant entry is unstable" after this many failed swaps, as Xen.</summary>
    public const int MaxPinAttempts = 5;

    public SimMappedFile File { get; } = file;

    // ---- granter side (the guest that owns the table)

    /// <summary>
    /// Grants <paramref name="frame"/> to <paramref name="domid"/>: frame and domid first, then after a
    /// write barrier the flags, so that a user who sees GTF_permit_access also sees the right frame.
    /// </summary>
    public void Grant(uint gref, uint frame, ushort domid, bool readOnly)
    {
        var offset = Offset(gref);
        Volatile.Write(ref File.UInt32At(offset + 4), frame);
        Volatile.Write(ref File.UInt16At(offset + 2), domid);
        Interlocked.MemoryBarrier();
        Volatile.Write(ref File.UInt16At(offset), (ushort)(GTF_permit_access | (readOnly ? GTF_readonly : 0)));
    }

    /// <summary>
    /// Ends access as Linux's <c>gnttab_end_foreign_access_ref</c>: flags to 0 only if neither
    /// GTF_reading nor GTF_writing is set. False: the grant is still in use and must not be reused yet.
    /// </summary>
    public bool EndAccess(uint gref)
    {
        ref var word = ref File.UInt32At(Offset(gref));
        var current = Volatile.Read(ref word);
        while (true)
        {
            if ((current & (GTF_reading | GTF_writing)) != 0)
                return false;
            var seen = Interlocked.CompareExchange(ref word, current & 0xFFFF_0000u, current);
            if (seen == current)
                return true;
            current = seen;
        }
    }

    /// <summary>The entry as it is now (flags, domid, frame), for the granter and for tests.</summary>
    public (ushort Flags, ushort DomId, uint Frame) ReadEntry(uint gref)
    {
        var offset = Offset(gref);
        var word = Volatile.Read(ref File.UInt32At(offset));
        return ((ushort)word, (ushort)(word >> 16), Volatile.Read(ref File.UInt32At(offset + 4)));
    }

    // ---- user side (a domain the entry was granted to)

    /// <summary>
    /// Pins an entry as Xen's <c>_set_status_v1</c>: read {flags, domid}, check it, compare-and-swap it to
    /// the same word with GTF_reading (| GTF_writing); on a failed swap re-read and re-check, at most
    /// <see cref="MaxPinAttempts"/> attempts. The reference must be below 8192 (checked by the caller,
    /// which owes bad_gntref before this).
    /// </summary>
    public short Pin<TInterference>(uint gref, ushort user, bool write, ref TInterference interference)
        where TInterference : struct, ISimPinInterference
    {
        ref var word = ref File.UInt32At(Offset(gref));
        var current = Volatile.Read(ref word);
        var set = (uint)(GTF_reading | (write ? GTF_writing : 0));
        for (var attempt = 1; ; attempt++)
        {
            var flags = (ushort)current;
            var domid = (ushort)(current >> 16);
            if ((flags & GTF_type_mask) != GTF_permit_access || domid != user)
                return GrantStatus.GeneralError;
            if (write && (flags & GTF_readonly) != 0)
                return GrantStatus.GeneralError;
            interference.BeforeSwap(ref word, attempt);
            var seen = Interlocked.CompareExchange(ref word, current | set, current);
            if (seen == current)
                return GrantStatus.Okay;
            if (attempt == MaxPinAttempts)
                return GrantStatus.GeneralError;
            current = seen;
        }
    }

    /// <summary>Frame of a pinned entry: read only after the swap succeeded, as Xen does.</summary>
    public uint ReadFrame(uint gref) => Volatile.Read(ref File.UInt32At(Offset(gref) + 4));

    /// <summary>Clears in-use bits with an atomic AND, no re-check (the guest may have changed the rest).</summary>
    public void ClearBits(uint gref, ushort bits) => Interlocked.And(ref File.UInt32At(Offset(gref)), ~(uint)bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Offset(uint gref)
    {
        if (gref >= SimRoot.GrantEntries)
            throw new ArgumentOutOfRangeException(nameof(gref), gref, "grant references are below 8192");
        return (nuint)gref * EntrySize;
    }
}
