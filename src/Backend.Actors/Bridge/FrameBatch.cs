using System.Collections.Concurrent;
using Backend.Xen.Buffers;

namespace Backend.Actors.Bridge;

/// <summary>
/// Frames moving between actors in one message (one per ring drain, never one per frame). Batches are
/// pooled: the receiver takes the frames, then returns the batch with <see cref="Release"/>. A batch that
/// no actor takes (its receiver stopped) is discarded by the <see cref="FrameBatchReclaimer"/>.
/// </summary>
public sealed class FrameBatch
{
    public const int MaxFrames = 256;

    private static readonly ConcurrentQueue<FrameBatch> Pool = new();

    // 1 while in the pool: a batch released twice would be handed to two senders at once.
    private int _pooled;

    public PacketBuffer[] Frames { get; } = new PacketBuffer[MaxFrames];

    public int Count { get; private set; }

    public bool IsFull => Count == MaxFrames;

    public static FrameBatch Rent()
    {
        if (!Pool.TryDequeue(out var batch))
            return new FrameBatch();
        Volatile.Write(ref batch._pooled, 0);
        return batch;
    }

    public void Add(PacketBuffer frame) => Frames[Count++] = frame;

    /// <summary>Drops the batch whole: every frame's buffer goes back to its pool, then the batch to its own.</summary>
    public void Discard()
    {
        for (var i = 0; i < Count; i++)
            Frames[i].Return();
        Release();
    }

    /// <summary>Returns the batch to the pool; the frames themselves now belong to whoever took them.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _pooled, 1) != 0)
            throw new InvalidOperationException("a frame batch was released twice");
        Array.Clear(Frames, 0, Count);
        Count = 0;
        Pool.Enqueue(this);
    }
}
