namespace Backend.Xen.Platform.Linux;

/// <summary>Receives the frames the host stack sends to one TAP.</summary>
public interface ITapFrameHandler
{
    /// <summary>
    /// Called on the <see cref="TapPoller"/>'s thread with a frame valid only during the call: copy what
    /// is kept (into the guest's grants, for instance) and return without blocking.
    /// </summary>
    void OnFrame(TapDevice tap, in VirtioNetHeader header, ReadOnlySpan<byte> frame);
}
