namespace Backend.Actors.Bridge;

/// <summary>
/// Frames on their way to one receiver (in <see cref="FrameBatch"/>es sent to it and not yet taken),
/// bounded in frames and bytes as its RX queue is. A receiver whose lane is busy (another guest's work,
/// a hostile guest holding it) would otherwise let its mailbox grow with every sender's frames, each a
/// native buffer. Senders check <see cref="HasRoom"/> per frame, counting the frames of the batch they
/// are filling, and add a batch as they send it (<see cref="FrameBatch.Charge"/>); the batch takes itself
/// off when released, by the receiver or, for a batch nobody took, by the dead-letter reclaimer.
/// Several senders may pass the check at once, so the bound can be passed by what they send together.
/// </summary>
public sealed class FrameBacklog(int maxFrames, long maxBytes)
{
    private int _frames;
    private long _bytes;

    public int MaxFrames { get; } = maxFrames;

    public long MaxBytes { get; } = maxBytes;

    public int Frames => Volatile.Read(ref _frames);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>
    /// Whether one more frame may go, with <paramref name="pendingFrames"/> of <paramref name="pendingBytes"/>
    /// not yet added: while below both bounds, as Linux's RX queue takes a frame while it holds less than its limit.
    /// </summary>
    public bool HasRoom(int pendingFrames, long pendingBytes) =>
        Frames + pendingFrames < MaxFrames && Bytes + pendingBytes < MaxBytes;

    internal void Add(int frames, long bytes)
    {
        Interlocked.Add(ref _frames, frames);
        Interlocked.Add(ref _bytes, bytes);
    }

    internal void Remove(int frames, long bytes)
    {
        Interlocked.Add(ref _frames, -frames);
        Interlocked.Add(ref _bytes, -bytes);
    }
}
