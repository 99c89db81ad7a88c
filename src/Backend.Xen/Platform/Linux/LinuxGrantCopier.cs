using Backend.Xen.Grants;
using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// Grant copies through <c>IOCTL_GNTDEV_GRANT_COPY</c> on a gntdev descriptor of its own (the kernel
/// serialises nothing across descriptors, so each lane's hypercall actor copies in parallel). Our
/// <see cref="GrantCopySegment"/> is <c>struct gntdev_grant_copy_segment</c> byte for byte, so the span
/// goes to the kernel as it is and the kernel writes every segment's status in place.
/// </summary>
public sealed class LinuxGrantCopier : IGrantCopier, IDisposable
{
    private readonly FileDescriptor _gntdev;

    public LinuxGrantCopier(string gntdevPath = GntdevIoctl.DevicePath)
    {
        _gntdev = FileDescriptor.Open(gntdevPath, LibC.O_RDWR, GntdevIoctl.MissingHint);
    }

    /// <inheritdoc/>
    public int LastBatchErrno { get; private set; }

    public unsafe void Copy(Span<GrantCopySegment> segments)
    {
        LastBatchErrno = 0;
        if (segments.IsEmpty)
            return;
        int result, errno;
        fixed (GrantCopySegment* first = segments)
        {
            var request = new IoctlGntdevGrantCopy { Count = (uint)segments.Length, Segments = first };
            result = _gntdev.Ioctl(GntdevIoctl.GrantCopy, &request, out errno);
        }
        if (result >= 0)
            return;

        // The ioctl failed as a whole (EFAULT on a bad local pointer, EINVAL on a segment that crosses a
        // page, ENOMEM): the kernel may have copied and stamped some batches already, but it reports no
        // per-segment truth we can rely on, so no segment may count as done.
        LastBatchErrno = errno;
        foreach (ref var segment in segments)
            segment.Status = GrantStatus.GeneralError;
    }

    public void Dispose() => _gntdev.Dispose();
}
