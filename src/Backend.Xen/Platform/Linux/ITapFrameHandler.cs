namespace Backend.Xen.Platform.Linux;

/// <summary>Receives the frames the host stack sends to one TAP.</summary>
public interface ITapFrameHandler
{
    /// <summary>
    /// Called on the <see cref="TapPoller"/>'s thread with a frame valid only during the call: copy what
    /// is kept (into the guest's grants, for instance) and return without blocking.
    /// </summary>
    void OnFrame(TapDevice tap, in VirtioNetHeader header, ReadOnlySpan<byte> frame);

    /// <summary>
    /// Called on the poller's thread after each turn of reads on <paramref name="tap"/> (at most
    /// <see cref="TapPoller.FramesPerTurn"/> frames), so that a handler can hand on what it gathered as one
    /// batch instead of one message per frame.
    /// </summary>
    void OnReadsDone(TapDevice tap)
    {
    }
}
