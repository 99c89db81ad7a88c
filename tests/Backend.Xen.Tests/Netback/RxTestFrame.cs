using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Netback;
using Backend.Xen.Offload;

namespace Backend.Xen.Tests.Netback;

/// <summary>A frame in native memory at a chosen offset into a page, filled with a recognisable pattern.</summary>
internal sealed unsafe class RxTestFrame : IDisposable
{
    private readonly void* _block;

    public RxTestFrame(int length, int pageOffset = 0, int seed = 1)
    {
        int pages = (pageOffset + Math.Max(length, 1) + NetifConstants.PageSize - 1) / NetifConstants.PageSize;
        _block = NativeMemory.AlignedAlloc((nuint)(pages * NetifConstants.PageSize), NetifConstants.PageSize);
        Address = (nint)_block + pageOffset;
        Length = length;
        new Random(seed).NextBytes(Bytes);
    }

    public nint Address { get; }
    public int Length { get; }
    public Span<byte> Bytes => new((void*)Address, Length);

    public RxFrame Frame(byte gsoType = NetifGsoType.None, ushort gsoSize = 0, FrameChecksum checksum = FrameChecksum.None) =>
        new(Address, Length, gsoType, gsoSize, checksum);

    public void Dispose() => NativeMemory.AlignedFree(_block);
}
