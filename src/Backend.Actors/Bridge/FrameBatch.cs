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

    /// <summary>Bytes of the frames in the batch.</summary>
    public long Bytes { get; private set; }

    /// <summary>The receiver's backlog the batch counts against once charged; null for none.</summary>
    public FrameBacklog? Backlog { get; private set; }

    private bool _charged;

    public bool IsFull => Count == MaxFrames;

    /// <summary>A batch for a receiver whose <paramref name="backlog"/> (if any) bounds the frames on their way to it.</summary>
    public static FrameBatch Rent(FrameBacklog? backlog = null)
    {
        if (!Pool.TryDequeue(out var batch))
            batch = new FrameBatch();
        else
            Volatile.Write(ref batch._pooled, 0);
        batch.Backlog = backlog;
        return batch;
    }

    public void Add(PacketBuffer frame)
    {
        Frames[Count++] = frame;
        Bytes += frame.Length;
    }

    /// <summary>Whether the receiver's backlog takes one more frame, counting this batch's own.</summary>
    public bool HasRoom => Backlog is null || Backlog.HasRoom(Count, Bytes);

    /// <summary>As it is sent: its frames count against the receiver's backlog until it is released.</summary>
    public void Charge()
    {
        if (Backlog is null || _charged)
            return;
        Backlog.Add(Count, Bytes);
        _charged = true;
    }

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
        if (_charged)
            Backlog!.Remove(Count, Bytes);
        _charged = false;
        Backlog = null;
        Array.Clear(Frames, 0, Count);
        Count = 0;
        Bytes = 0;
        Pool.Enqueue(this);
    }
}
