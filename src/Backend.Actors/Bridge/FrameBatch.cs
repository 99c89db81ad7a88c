using System.Collections.Concurrent;
using Backend.Xen.Buffers;

namespace Backend.Actors.Bridge;

/// <summary>
/// Frames moving between actors in one message (one per ring drain, never one per frame). Batches are
/// pooled: the receiver takes the frames, then returns the batch with <see cref="Release"/>.
/// </summary>
public sealed class FrameBatch
{
    public const int MaxFrames = 256;

    private static readonly ConcurrentQueue<FrameBatch> Pool = new();

    public PacketBuffer[] Frames { get; } = new PacketBuffer[MaxFrames];

    public int Count { get; private set; }

    public bool IsFull => Count == MaxFrames;

    public static FrameBatch Rent() => Pool.TryDequeue(out var batch) ? batch : new FrameBatch();

    public void Add(PacketBuffer frame) => Frames[Count++] = frame;

    /// <summary>Returns the batch to the pool; the frames themselves now belong to whoever took them.</summary>
    public void Release()
    {
        Array.Clear(Frames, 0, Count);
        Count = 0;
        Pool.Enqueue(this);
    }
}
