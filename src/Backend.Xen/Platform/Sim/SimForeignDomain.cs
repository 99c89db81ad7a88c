using Backend.Xen.Grants;
using static Backend.Xen.Platform.Sim.SimGrantFlags;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Another domain's grant table and memory as this process uses them, plus our own pin counts per
/// reference: GTF_reading / GTF_writing are cleared only when the last of our users (copiers on other
/// threads, ring mappings) lets go, so two users here never clear each other's bits. The counts take no
/// lock (<see cref="Claim{TInterference}"/>): each grant side of a copy costs two compare-and-swaps on
/// our count, the pin's on the entry and the AND that clears it. Reference counted:
/// when the guest restarts with new files the cache moves on, and this object goes with its last user.
/// The pin counts live in chunks (<see cref="SimPinChunk"/>) created at their first pin and kept from
/// then on: the daemon holds one of these per guest, and most guests pin a few references only.
/// </summary>
internal sealed class SimForeignDomain
{
    private readonly SimMappedFile? _memory;
    private readonly SimPinChunk?[] _chunks = new SimPinChunk?[SimRoot.GrantEntries / SimPinChunk.Entries];
    private SimReferenceCount _references = SimReferenceCount.One;

    public SimForeignDomain(ushort domid, SimMappedFile grantTable, SimMappedFile? memory)
    {
        DomId = domid;
        GrantTable = new SimGrantTable(grantTable);
        _memory = memory;
        MemoryPages = memory is null ? 0 : (uint)(memory.Length / SimRoot.PageSize);
    }

    public ushort DomId { get; }

    public SimGrantTable GrantTable { get; }

    /// <summary>Whole pages of the memory file (0 when it was missing: every frame is then bad_page).</summary>
    public uint MemoryPages { get; }

    public FileIdentity Identity => GrantTable.File.Identity;

    /// <summary>
    /// The grant checks after the domain check, in SIMXEN's order: bad_gntref, general_error (the pin),
    /// bad_page. On okay the entry is pinned and <paramref name="frame"/> is inside memory; the caller
    /// must <see cref="Unclaim"/> it.
    /// <para>
    /// No lock: our count for the reference goes up first (a compare-and-swap), then the entry is pinned
    /// as Xen's <c>_set_status_v1</c> (check, compare-and-swap the bits in, up to 5 attempts), on every
    /// use. Counting first keeps the bits honest: a user that lets go while we are counted is not the
    /// last, so it cannot clear the bits between our swap and our copy; if our pin then fails, we let go
    /// as that user's heir and clear what it left to us if we are the last (<see cref="Release"/>). A
    /// count is not taken while another user's clear is under way (<see cref="SimPinChunk.Clearing"/>):
    /// our swap must come after that user's AND, or the AND would take our bits away mid-copy.
    /// </para>
    /// </summary>
    public short Claim<TInterference>(uint gref, ushort user, bool write, out uint frame, ref TInterference interference)
        where TInterference : struct, ISimPinInterference
    {
        frame = 0;
        if (gref >= SimRoot.GrantEntries)
            return GrantStatus.BadGntref;
        ref var pins = ref Chunk(gref).Pins[gref % SimPinChunk.Entries];
        var add = write ? SimPinChunk.Reader | SimPinChunk.Writer : SimPinChunk.Reader;
        var current = Volatile.Read(ref pins);
        var spin = default(SpinWait);
        while (true)
        {
            current = WaitOutClear(ref pins, current, ref spin);
            // As Xen refuses a pin that would overflow its count: only a guest that names one reference
            // in thousands of rings at once comes near. (Writers are readers too, so they fit.)
            if (SimPinChunk.Readers(current) == SimPinChunk.CountMask)
                return GrantStatus.GeneralError;
            var seen = Interlocked.CompareExchange(ref pins, current + add, current);
            if (seen == current)
                break;
            current = seen;
        }
        var status = GrantTable.Pin(gref, user, write, ref interference);
        if (status != GrantStatus.Okay)
        {
            Release(ref pins, gref, write, pinned: false, ref interference);
            return status;
        }
        var f = GrantTable.ReadFrame(gref);
        if (f >= MemoryPages)
        {
            Release(ref pins, gref, write, pinned: true, ref interference);
            return GrantStatus.BadPage;
        }
        frame = f;
        return GrantStatus.Okay;
    }

    public short Claim(uint gref, ushort user, bool write, out uint frame)
    {
        var none = default(NoPinInterference);
        return Claim(gref, user, write, out frame, ref none);
    }

    /// <summary>Drops one pin; the last one clears the bits with an atomic AND.</summary>
    public void Unclaim<TInterference>(uint gref, bool write, ref TInterference interference)
        where TInterference : struct, ISimPinInterference
    {
        // Claimed before, so its chunk exists.
        var chunk = Volatile.Read(ref _chunks[gref / SimPinChunk.Entries])!;
        Release(ref chunk.Pins[gref % SimPinChunk.Entries], gref, write, pinned: true, ref interference);
    }

    public void Unclaim(uint gref, bool write)
    {
        var none = default(NoPinInterference);
        Unclaim(gref, write, ref none);
    }

    /// <summary>
    /// Takes our count down, for a user whose pin succeeded (<paramref name="pinned"/>) or failed. The user
    /// that takes the readers (writers) to 0 clears GTF_reading (GTF_writing) with an atomic AND, no
    /// re-check (SIMXEN), if it had pinned them itself or a user that had let go while it was counted
    /// (<see cref="SimPinChunk.LeftReading"/>): a failed pin with nothing left to it touches nothing, as
    /// Xen's, since the entry may be another domain's pin now. It marks the word
    /// <see cref="SimPinChunk.Clearing"/> in the same swap and unmarks it after the AND; every other swap
    /// waits out a clear under way, so no count changes under it and no new pin comes before the AND.
    /// </summary>
    private void Release<TInterference>(ref int pins, uint gref, bool write, bool pinned, ref TInterference interference)
        where TInterference : struct, ISimPinInterference
    {
        var take = write ? SimPinChunk.Reader | SimPinChunk.Writer : SimPinChunk.Reader;
        var current = Volatile.Read(ref pins);
        var spin = default(SpinWait);
        while (true)
        {
            current = WaitOutClear(ref pins, current, ref spin);
            var next = current - take;
            ushort clear = 0;
            if (SimPinChunk.Readers(next) == 0)
            {
                // Writers are readers too, so none is left either.
                if (pinned || (current & SimPinChunk.LeftReading) != 0)
                    clear |= GTF_reading;
                if (write && (pinned || (current & SimPinChunk.LeftWriting) != 0))
                    clear |= GTF_writing;
                next &= ~(SimPinChunk.LeftReading | SimPinChunk.LeftWriting);
            }
            else
            {
                if (pinned)
                    next |= SimPinChunk.LeftReading;
                if (write && SimPinChunk.Writers(next) == 0)
                {
                    if (pinned || (current & SimPinChunk.LeftWriting) != 0)
                        clear |= GTF_writing;
                    next &= ~SimPinChunk.LeftWriting;
                }
                else if (write && pinned)
                {
                    next |= SimPinChunk.LeftWriting;
                }
            }
            var seen = Interlocked.CompareExchange(ref pins, clear == 0 ? next : next | SimPinChunk.Clearing, current);
            if (seen != current)
            {
                current = seen;
                continue;
            }
            if (clear != 0)
            {
                interference.BeforeClear(gref);
                GrantTable.ClearBits(gref, clear);
                Volatile.Write(ref pins, next);
            }
            return;
        }
    }

    /// <summary>The pin word once no clear is under way: every swap but the clearer's waits one out.</summary>
    private static int WaitOutClear(ref int pins, int current, ref SpinWait spin)
    {
        while ((current & SimPinChunk.Clearing) != 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
            current = Volatile.Read(ref pins);
        }
        return current;
    }

    /// <summary>
    /// The chunk of <paramref name="gref"/>'s pin counts, created at its first use: once per chunk and
    /// guest, so a guest's traffic allocates nothing once its grant references have been seen.
    /// </summary>
    private SimPinChunk Chunk(uint gref)
    {
        ref var slot = ref _chunks[gref / SimPinChunk.Entries];
        var chunk = Volatile.Read(ref slot);
        if (chunk is not null)
            return chunk;
        // Two first users may race: the one that loses uses the winner's chunk.
        var created = new SimPinChunk();
        return Interlocked.CompareExchange(ref slot, created, null) ?? created;
    }

    /// <summary>The 4096 bytes of a frame that <see cref="Claim"/> accepted.</summary>
    public Span<byte> Page(uint frame) => _memory!.Bytes((nuint)frame * SimRoot.PageSize, SimRoot.PageSize);

    public SimPageMapping MapPage(uint frame, bool writable) => _memory!.MapPage(frame, writable);

    public bool TryAddReference() => _references.TryAdd();

    public void Release()
    {
        if (_references.Release() != 0)
            return;
        GrantTable.File.Release();
        _memory?.Release();
    }
}
