using Backend.Actors.Bridge;
using Backend.Xen.Platform.Linux;

namespace Backend.Actors.HostNetwork;

/// <summary>Writes a batch of frames to a TAP, each behind its virtio-net header, and lets go of them.</summary>
internal static class TapWriter
{
    /// <summary>
    /// A TAP write never waits (the kernel takes the frame or drops it), so this runs on the caller's
    /// thread; a refusal (EIO while the interface is down, EINVAL for a header the kernel rejects) drops
    /// that frame and is counted, never thrown: the frames come from guests.
    /// </summary>
    public static void Write(TapDevice tap, FrameBatch batch, TapPortCounters counters)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var frame = batch.Frames[i];
            var errno = -1;
            if (TapOffload.TryToTap(frame, out var header))
                errno = tap.Write(in header, frame.Frame);
            if (errno == 0)
            {
                Interlocked.Increment(ref counters.ToHost);
            }
            else
            {
                Interlocked.Increment(ref counters.ToHostDropped);
                if (errno > 0)
                    Volatile.Write(ref counters.LastWriteError, errno);
            }
            frame.Return();
        }
        batch.Release();
    }
}
