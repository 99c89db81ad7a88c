using System.Runtime.InteropServices;
using Backend.Xen.Abi;

namespace Backend.Xen.Tests.Rings;

/// <summary>One zeroed, page-aligned 4096-byte page of native memory standing in for a shared ring page.</summary>
public sealed unsafe class NativePage : IDisposable
{
    public NativePage()
    {
        Address = (nint)NativeMemory.AlignedAlloc(NetifConstants.PageSize, NetifConstants.PageSize);
        NativeMemory.Clear((void*)Address, NetifConstants.PageSize);
    }

    public nint Address { get; private set; }

    /// <summary>The shared header, for tests that play a hostile frontend or check what the backend wrote.</summary>
    public ref SharedRingHeader Header => ref *(SharedRingHeader*)Address;

    public void Dispose()
    {
        if (Address == 0)
            return;
        NativeMemory.AlignedFree((void*)Address);
        Address = 0;
    }
}
