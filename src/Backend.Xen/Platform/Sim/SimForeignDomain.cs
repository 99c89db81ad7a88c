using Backend.Xen.Grants;
using static Backend.Xen.Platform.Sim.SimGrantFlags;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Another domain's grant table and memory as this process uses them, plus our own pin counts per
/// reference: GTF_reading / GTF_writing are cleared only when the last of our users (copiers on other
/// threads, ring mappings) lets go, so two users here never clear each other's bits. Reference counted:
/// when the guest restarts with new files the cache moves on, and this object goes with its last user.
/// The pin counts live in chunks (<see cref="SimPinChunk"/>) created at their first pin and kept from
/// then on: the daemon holds one of these per guest, and most guests pin a few references only.
/// </summary>
internal sealed class SimForeignDomain
{
    private readonly SimMappedFile? _memory;
    private readonly SimPinChunk?[] _chunks = new SimPinChunk?[SimRoot.GrantEntries / SimPinChunk.Entries];
    private int _references = 1;

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
    /// </summary>
    public short Claim<TInterference>(uint gref, ushort user, bool write, out uint frame, ref TInterference interference)
        where TInterference : struct, ISimPinInterference
    {
        frame = 0;
        if (gref >= SimRoot.GrantEntries)
            return GrantStatus.BadGntref;
        var chunk = Chunk(gref);
        var i = gref % SimPinChunk.Entries;
        lock (chunk.Gate)
        {
            var status = GrantTable.Pin(gref, user, write, ref interference);
            if (status != GrantStatus.Okay)
                return status;
            chunk.Readers[i]++;
            if (write)
                chunk.Writers[i]++;
        }
        var f = GrantTable.ReadFrame(gref);
        if (f >= MemoryPages)
        {
            Unclaim(gref, write);
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
    public void Unclaim(uint gref, bool write)
    {
        // Claimed before, so its chunk exists.
        var chunk = Volatile.Read(ref _chunks[gref / SimPinChunk.Entries])!;
        var i = gref % SimPinChunk.Entries;
        lock (chunk.Gate)
        {
            ushort clear = 0;
            if (--chunk.Readers[i] == 0)
                clear |= GTF_reading;
            if (write && --chunk.Writers[i] == 0)
                clear |= GTF_writing;
            if (clear != 0)
                GrantTable.ClearBits(gref, clear);
        }
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

    public bool TryAddReference()
    {
        var current = Volatile.Read(ref _references);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current)
                return true;
            current = seen;
        }
        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
            return;
        GrantTable.File.Release();
        _memory?.Release();
    }
}
