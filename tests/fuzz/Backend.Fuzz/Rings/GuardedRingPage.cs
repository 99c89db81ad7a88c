using System.Runtime.InteropServices;
using Backend.Xen.Abi;

namespace Backend.Fuzz.Rings;

/// <summary>
/// A shared ring page in plain native memory between two canary pages, so that a write the backend makes
/// outside its ring shows; the frontend's side is played by the target through <see cref="Header"/> and
/// <see cref="Entry"/>. The page's bytes past the ring's last slot (a ring of 256 tx/rx slots, or of 128
/// ctrl slots, does not fill the page) are canaries too: no ring index reaches them.
/// </summary>
internal sealed unsafe class GuardedRingPage : IDisposable
{
    private const byte Canary = 0x5A;
    private const int PageSize = NetifConstants.PageSize;

    private byte* _block;

    /// <param name="entrySize">The ring's entry: the larger of its request and response.</param>
    /// <param name="slots">The ring's size, a power of two (__RING_SIZE: 256 for tx and rx, 128 for ctrl).</param>
    public GuardedRingPage(int entrySize, int slots = 256)
    {
        if (slots <= 0 || (slots & (slots - 1)) != 0 || SharedRingHeader.EntriesOffset + slots * entrySize > PageSize)
            throw new ArgumentOutOfRangeException(nameof(slots), $"{slots} slots of {entrySize} bytes are no ring");
        EntrySize = entrySize;
        Slots = slots;
        _block = (byte*)NativeMemory.AlignedAlloc(3 * PageSize, PageSize);
        new Span<byte>(_block, 3 * PageSize).Fill(Canary);
        new Span<byte>(_block + PageSize, SharedRingHeader.EntriesOffset + slots * entrySize).Clear();
    }

    public int EntrySize { get; }

    public int Slots { get; }

    // The unused end of the ring page, after the last slot.
    private Span<byte> Tail => new(_block + PageSize + SharedRingHeader.EntriesOffset + Slots * EntrySize,
        PageSize - SharedRingHeader.EntriesOffset - Slots * EntrySize);

    /// <summary>The ring page.</summary>
    public nint Address => (nint)(_block + PageSize);

    public ref SharedRingHeader Header => ref *(SharedRingHeader*)Address;

    /// <summary>The bytes of ring slot <paramref name="index"/> &amp; (<see cref="Slots"/> − 1), as the frontend sees them.</summary>
    public Span<byte> Entry(uint index) =>
        new(_block + PageSize + SharedRingHeader.EntriesOffset + (index & (uint)(Slots - 1)) * EntrySize, EntrySize);

    /// <summary>All the slots, for a snapshot.</summary>
    public ReadOnlySpan<byte> Entries => new(_block + PageSize + SharedRingHeader.EntriesOffset, Slots * EntrySize);

    public T Read<T>(uint index) where T : unmanaged => MemoryMarshal.Read<T>(Entry(index));

    public void Write<T>(uint index, in T value) where T : unmanaged => MemoryMarshal.Write(Entry(index), in value);

    /// <summary>Throws when a byte before or after the ring page, or past its last slot, has changed.</summary>
    public void CheckCanaries()
    {
        if (Tail.IndexOfAnyExcept(Canary) is var t and >= 0)
            throw new InvariantException($"byte {t} after the ring's last slot was written");
        var before = new ReadOnlySpan<byte>(_block, PageSize);
        var after = new ReadOnlySpan<byte>(_block + 2 * PageSize, PageSize);
        if (before.IndexOfAnyExcept(Canary) is var b and >= 0)
            throw new InvariantException($"byte {b} before the ring page was written");
        if (after.IndexOfAnyExcept(Canary) is var a and >= 0)
            throw new InvariantException($"byte {a} after the ring page was written");
    }

    public void Dispose()
    {
        if (_block == null)
            return;
        NativeMemory.AlignedFree(_block);
        _block = null;
    }
}
