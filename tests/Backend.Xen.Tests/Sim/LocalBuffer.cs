using System.Runtime.InteropServices;

namespace Backend.Xen.Tests.Sim;

/// <summary>Native memory for the local side of a grant copy (a virtual address, as with gntdev).</summary>
public sealed unsafe class LocalBuffer : IDisposable
{
    private void* _memory;

    public LocalBuffer(int length)
    {
        Length = length;
        _memory = NativeMemory.AllocZeroed((nuint)length);
    }

    public int Length { get; }

    public nint Address => (nint)_memory;

    public Span<byte> Span => new(_memory, Length);

    public void Dispose()
    {
        NativeMemory.Free(_memory);
        _memory = null;
    }
}
