using System.Runtime.InteropServices;
using Backend.Xen.Grants;

namespace Backend.Actors.Tests.Support;

/// <summary>A ring page in ordinary memory, standing in for a mapped grant, so that a ring actor can be driven alone.</summary>
public sealed unsafe class PlainRingPage : IGrantMapping
{
    private int _disposed;

    public PlainRingPage(ushort domid)
    {
        DomId = domid;
        Address = (nint)NativeMemory.AlignedAlloc(4096, 4096);
        new Span<byte>((void*)Address, 4096).Clear();
    }

    public ushort DomId { get; }

    public uint Gref => 8;

    public nint Address { get; }

    public bool Disposed => Volatile.Read(ref _disposed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            NativeMemory.AlignedFree((void*)Address);
    }
}
