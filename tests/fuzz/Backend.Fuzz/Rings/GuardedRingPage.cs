using System.Runtime.InteropServices;
using Backend.Xen.Abi;

namespace Backend.Fuzz.Rings;

/// <summary>
/// A shared ring page in plain native memory between two canary pages, so that a write the backend makes
/// outside its ring shows; the frontend's side is played by the target through <see cref="Header"/> and
/// <see cref="Entry"/>.
/// </summary>
internal sealed unsafe class GuardedRingPage : IDisposable
{
    private const byte Canary = 0x5A;
    private const int PageSize = NetifConstants.PageSize;

    private byte* _block;

    public GuardedRingPage(int entrySize)
    {
        EntrySize = entrySize;
        _block = (byte*)NativeMemory.AlignedAlloc(3 * PageSize, PageSize);
        new Span<byte>(_block, 3 * PageSize).Fill(Canary);
        new Span<byte>(_block + PageSize, PageSize).Clear();
    }

    public int EntrySize { get; }

    /// <summary>The ring page.</summary>
    public nint Address => (nint)(_block + PageSize);

    public ref SharedRingHeader Header => ref *(SharedRingHeader*)Address;

    /// <summary>The bytes of ring slot <paramref name="index"/> &amp; 255, as the frontend sees them.</summary>
    public Span<byte> Entry(uint index) =>
        new(_block + PageSize + SharedRingHeader.EntriesOffset + (index & 255) * EntrySize, EntrySize);

    /// <summary>All 256 slots, for a snapshot.</summary>
    public ReadOnlySpan<byte> Entries => new(_block + PageSize + SharedRingHeader.EntriesOffset, 256 * EntrySize);

    public T Read<T>(uint index) where T : unmanaged => MemoryMarshal.Read<T>(Entry(index));

    public void Write<T>(uint index, in T value) where T : unmanaged => MemoryMarshal.Write(Entry(index), in value);

    /// <summary>Throws when a byte before or after the ring page has changed.</summary>
    public void CheckCanaries()
    {
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
