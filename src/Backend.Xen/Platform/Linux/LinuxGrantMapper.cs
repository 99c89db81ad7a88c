using Backend.Xen.Grants;
using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// Maps single granted pages (ring pages) through gntdev: <c>IOCTL_GNTDEV_MAP_GRANT_REF</c> reserves an
/// index, <c>mmap</c> at that index performs the hypervisor map. Thread-safe: gntdev locks its own map
/// list, and each mapping keeps the descriptor alive until it is unmapped.
/// </summary>
public sealed class LinuxGrantMapper : IGrantMapper, IDisposable
{
    internal const int PageSize = 4096;

    private readonly FileDescriptor _gntdev;

    public LinuxGrantMapper(string gntdevPath = GntdevIoctl.DevicePath)
    {
        _gntdev = FileDescriptor.Open(gntdevPath, LibC.O_RDWR, GntdevIoctl.MissingHint);
    }

    public unsafe IGrantMapping Map(ushort domid, uint gref, bool writable)
    {
        var request = new IoctlGntdevMapGrantRef
        {
            Count = 1,
            Ref0 = new IoctlGntdevGrantRef { DomId = domid, Ref = gref },
        };
        if (_gntdev.Ioctl(GntdevIoctl.MapGrantRef, &request, out var errno) < 0)
            throw Failure("IOCTL_GNTDEV_MAP_GRANT_REF", domid, gref, errno);

        // The hypervisor map happens in mmap: a bad reference, a foreign domid or a read-only grant
        // mapped writable fails here, as the errno of a GNTTABOP_map_grant_ref status.
        var mapping = new LinuxGrantMapping(_gntdev, domid, gref, request.Index);
        try
        {
            mapping.MapPage(writable);
        }
        catch (LinuxDeviceException e)
        {
            mapping.Dispose();
            throw Failure("mmap", domid, gref, e.Errno);
        }
        return mapping;
    }

    public void Dispose() => _gntdev.Dispose();

    private GrantException Failure(string operation, ushort domid, uint gref, int errno) =>
        new(StatusOf(errno), $"{operation} of grant {gref} from domain {domid} on {_gntdev.Path} failed: {Errno.Describe(errno)}");

    /// <summary>
    /// gntdev reports a failed GNTTABOP_map_grant_ref as an errno, not the GNTST_* status; this gives the
    /// nearest status so that callers handle both platforms alike.
    /// </summary>
    internal static short StatusOf(int errno) => errno switch
    {
        Errno.ENOMEM or Errno.ENODEV => GrantStatus.NoDeviceSpace,
        Errno.EPERM or Errno.EACCES => GrantStatus.PermissionDenied,
        Errno.EAGAIN => GrantStatus.Eagain,
        _ => GrantStatus.GeneralError,
    };
}
