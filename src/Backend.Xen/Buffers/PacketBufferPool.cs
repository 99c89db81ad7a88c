using System.Collections.Concurrent;

namespace Backend.Xen.Buffers;

/// <summary>
/// Native packet buffers in three size classes (a standard frame, a jumbo frame, a 64 KiB GSO frame), so
/// that a stream of small frames does not pin 64 KiB each. Buffers are created on demand and kept once
/// returned, up to a byte budget per class (<see cref="DefaultKeptBytesPerClass"/>: 32768 small, 4096
/// medium or 1024 large buffers), so the steady state allocates nothing while a burst that needed more
/// gives the excess back to the system instead of pinning it for the daemon's life.
/// <para>
/// Native memory has no finalizer: a buffer that is never returned is lost for the daemon's life. So the
/// pool counts the buffers out (<see cref="Outstanding"/>, shown in /metrics): when the data path is
/// idle it must be 0, and a path that drops a frame anywhere (a stopped actor's mailbox, a copy still in
/// flight when its ring actor stops) returns it. What is out is bounded by the queues that hold it (RX
/// queues and the frames on their way to them, in frames and bytes; the rings).
/// </para>
/// </summary>
public sealed class PacketBufferPool : IDisposable
{
    public const int SmallSize = 2048;
    public const int MediumSize = 16384;
    /// <summary>XEN_NETIF_MAX_TX_SIZE rounded up: the largest frame either ring can carry.</summary>
    public const int LargeSize = 65536;

    /// <summary>What each size class keeps for reuse, at most: 64 MiB.</summary>
    public const long DefaultKeptBytesPerClass = 64L << 20;

    private static readonly int[] Sizes = [SmallSize, MediumSize, LargeSize];

    private readonly ConcurrentQueue<PacketBuffer>[] _free = [new(), new(), new()];
    private readonly int[] _maxKept;
    private readonly int[] _kept = new int[3];
    private long _created;
    private long _freed;

    public PacketBufferPool(long keptBytesPerClass = DefaultKeptBytesPerClass)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keptBytesPerClass);
        _maxKept = [.. Sizes.Select(size => (int)Math.Min(int.MaxValue, keptBytesPerClass / size))];
    }

    /// <summary>Buffers created so far (a steady state stops raising it).</summary>
    public long Created => Interlocked.Read(ref _created);

    /// <summary>
    /// Buffers rented and not yet returned: frames somewhere in the data path. Derived from counts that
    /// change anyway (no counter of its own on every rent and return, a line all lanes would share), so
    /// it may be off by the rents and returns under way while it is read; at rest it is exact.
    /// </summary>
    public long Outstanding => Created - Interlocked.Read(ref _freed) - Kept;

    /// <summary>Buffers held for reuse.</summary>
    public int Kept => Volatile.Read(ref _kept[0]) + Volatile.Read(ref _kept[1]) + Volatile.Read(ref _kept[2]);

    /// <summary>Native memory held for reuse.</summary>
    public long KeptBytes => (long)Volatile.Read(ref _kept[0]) * SmallSize + (long)Volatile.Read(ref _kept[1]) * MediumSize + (long)Volatile.Read(ref _kept[2]) * LargeSize;

    public PacketBuffer Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, LargeSize);
        var c = length <= SmallSize ? 0 : length <= MediumSize ? 1 : 2;
        if (_free[c].TryDequeue(out var buffer))
        {
            Interlocked.Decrement(ref _kept[c]);
        }
        else
        {
            buffer = new PacketBuffer(this, Sizes[c]);
            Interlocked.Increment(ref _created);
        }
        buffer.Reset();
        buffer.MarkRented();
        return buffer;
    }

    internal void Return(PacketBuffer buffer)
    {
        var c = buffer.Capacity switch { SmallSize => 0, MediumSize => 1, _ => 2 };
        // Several returns may pass the check at once: the budget can be passed by as many buffers.
        if (Volatile.Read(ref _kept[c]) >= _maxKept[c])
        {
            Interlocked.Increment(ref _freed);
            buffer.Free();
            return;
        }
        Interlocked.Increment(ref _kept[c]);
        _free[c].Enqueue(buffer);
    }

    /// <summary>
    /// Gives every buffer kept for reuse back to the system; buffers out stay out and come back as usual.
    /// For a daemon left without a vif: what a burst made it keep is the host's again until traffic returns
    /// (decision 85).
    /// </summary>
    /// <returns>The bytes given back.</returns>
    public long Trim()
    {
        long bytes = 0;
        for (var c = 0; c < _free.Length; c++)
        {
            while (_free[c].TryDequeue(out var b))
            {
                Interlocked.Decrement(ref _kept[c]);
                Interlocked.Increment(ref _freed);
                bytes += b.Capacity;
                b.Free();
            }
        }
        return bytes;
    }

    public void Dispose() => Trim();
}
