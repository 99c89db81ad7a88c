using System.Runtime.InteropServices;

namespace Backend.Xen.Buffers;

/// <summary>
/// One frame in native memory (so a grant copy can name it by address), with the offload state that
/// travels with it from a TX ring to an RX ring. Rented from <see cref="PacketBufferPool"/>; whoever
/// holds it last returns it.
/// </summary>
public sealed unsafe class PacketBuffer
{
    private readonly PacketBufferPool _pool;
    // 1 while rented: a second Return of the same buffer would put it in the pool twice, and two frames
    // would then share it; that bug is thrown at its source instead.
    private int _rented;

    internal PacketBuffer(PacketBufferPool pool, int capacity)
    {
        _pool = pool;
        Capacity = capacity;
        Address = (nint)NativeMemory.AlignedAlloc((nuint)capacity, 64);
    }

    /// <summary>Start of the buffer; stable for the buffer's life, so grant copies may target it.</summary>
    public nint Address { get; }

    public int Capacity { get; }

    /// <summary>Bytes of frame in the buffer.</summary>
    public int Length { get; set; }

    /// <summary>XEN_NETIF_GSO_TYPE_* of the frame (0: not a GSO frame).</summary>
    public byte GsoType { get; set; }

    public ushort GsoSize { get; set; }

    /// <summary>The checksum fields are blank (a partial checksum to be filled by whoever delivers it).</summary>
    public bool ChecksumBlank { get; set; }

    /// <summary>The sender vouched for the checksum (NETTXF_data_validated).</summary>
    public bool DataValidated { get; set; }

    public Span<byte> Span => new((void*)Address, Capacity);

    public Span<byte> Frame => new((void*)Address, Length);

    /// <summary>Clears the frame's metadata for the next user.</summary>
    public void Reset()
    {
        Length = 0;
        GsoType = 0;
        GsoSize = 0;
        ChecksumBlank = false;
        DataValidated = false;
    }

    /// <summary>Copies the frame and its metadata from <paramref name="other"/> (which must fit).</summary>
    public void CopyFrom(PacketBuffer other)
    {
        other.Frame.CopyTo(Span);
        Length = other.Length;
        GsoType = other.GsoType;
        GsoSize = other.GsoSize;
        ChecksumBlank = other.ChecksumBlank;
        DataValidated = other.DataValidated;
    }

    /// <summary>Hands the buffer back to its pool; the caller must not touch it afterwards.</summary>
    public void Return()
    {
        if (Interlocked.Exchange(ref _rented, 0) == 0)
            throw new InvalidOperationException("a packet buffer was returned twice");
        _pool.Return(this);
    }

    internal void MarkRented() => Volatile.Write(ref _rented, 1);

    internal void Free() => NativeMemory.AlignedFree((void*)Address);
}
