using System.Collections.Concurrent;

namespace Backend.Xen.Buffers;

/// <summary>
/// Native packet buffers in three size classes (a standard frame, a jumbo frame, a 64 KiB GSO frame), so
/// that a stream of small frames does not pin 64 KiB each. Buffers are created on demand and kept once
/// created (up to a bound per class), so the steady state allocates nothing.
/// <para>
/// Native memory has no finalizer: a buffer that is never returned is lost for the daemon's life. So the
/// pool counts the buffers out (<see cref="Outstanding"/>, shown in /metrics): when the data path is
/// idle it must be 0, and a path that drops a frame anywhere (a stopped actor's mailbox, a copy still in
/// flight when its ring actor stops) returns it.
/// </para>
/// </summary>
public sealed class PacketBufferPool : IDisposable
{
    public const int SmallSize = 2048;
    public const int MediumSize = 16384;
    /// <summary>XEN_NETIF_MAX_TX_SIZE rounded up: the largest frame either ring can carry.</summary>
    public const int LargeSize = 65536;

    private readonly ConcurrentQueue<PacketBuffer> _small = new();
    private readonly ConcurrentQueue<PacketBuffer> _medium = new();
    private readonly ConcurrentQueue<PacketBuffer> _large = new();
    private readonly int _maxKeptPerClass;
    private int _kept;
    private long _created;
    private long _outstanding;

    public PacketBufferPool(int maxKeptPerClass = 65536) => _maxKeptPerClass = maxKeptPerClass;

    /// <summary>Buffers created so far (a steady state stops raising it).</summary>
    public long Created => Interlocked.Read(ref _created);

    /// <summary>Buffers rented and not yet returned: frames somewhere in the data path.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>Buffers held for reuse.</summary>
    public int Kept => Volatile.Read(ref _kept);

    public PacketBuffer Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, LargeSize);
        var (queue, size) = length <= SmallSize ? (_small, SmallSize) : length <= MediumSize ? (_medium, MediumSize) : (_large, LargeSize);
        if (queue.TryDequeue(out var buffer))
        {
            Interlocked.Decrement(ref _kept);
        }
        else
        {
            buffer = new PacketBuffer(this, size);
            Interlocked.Increment(ref _created);
        }
        buffer.Reset();
        buffer.MarkRented();
        Interlocked.Increment(ref _outstanding);
        return buffer;
    }

    internal void Return(PacketBuffer buffer)
    {
        Interlocked.Decrement(ref _outstanding);
        if (Volatile.Read(ref _kept) >= _maxKeptPerClass * 3)
        {
            buffer.Free();
            return;
        }
        Interlocked.Increment(ref _kept);
        (buffer.Capacity switch { SmallSize => _small, MediumSize => _medium, _ => _large }).Enqueue(buffer);
    }

    public void Dispose()
    {
        foreach (var q in new[] { _small, _medium, _large })
            while (q.TryDequeue(out var b))
                b.Free();
    }
}
