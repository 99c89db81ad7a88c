namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>Counts the frames it is given (the last consumer of a guest that only sinks traffic).</summary>
internal sealed class SimFrameCounter : ISimFrameConsumer
{
    private readonly Lock _gate = new();
    private long _frames;
    private long _bytes;
    private long _target = long.MaxValue;
    private TaskCompletionSource? _reached;

    public long Frames => Interlocked.Read(ref _frames);

    public long Bytes => Interlocked.Read(ref _bytes);

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
    {
        var frames = Interlocked.Increment(ref _frames);
        Interlocked.Add(ref _bytes, frame.Length);
        if (frames >= Volatile.Read(ref _target))
        {
            TaskCompletionSource? reached;
            lock (_gate)
            {
                reached = _reached;
                _reached = null;
                _target = long.MaxValue;
            }
            reached?.TrySetResult();
        }
    }

    /// <summary>Completes once <paramref name="frames"/> frames have been counted (one waiter at a time).</summary>
    public Task WhenAtLeast(long frames)
    {
        lock (_gate)
        {
            if (Frames >= frames)
                return Task.CompletedTask;
            _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _target, frames);
            var task = _reached.Task;
            // A frame counted between the check and the target being set would be missed: look again.
            if (Frames >= frames)
            {
                _reached = null;
                _target = long.MaxValue;
                return Task.CompletedTask;
            }
            return task;
        }
    }
}
