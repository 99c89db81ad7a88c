using Backend.Xen.Grants;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// One page mapped through gntdev. It holds a reference on the gntdev descriptor so that the mapper's
/// disposal cannot close the descriptor under a live mapping; disposing unmaps the page, then releases
/// the gntdev index (in that order: the kernel unmaps the grant when the last user of the index goes).
/// </summary>
internal sealed class LinuxGrantMapping : IGrantMapping
{
    private readonly FileDescriptor _gntdev;
    private readonly ulong _index;
    private nint _address;
    private int _disposed;

    public LinuxGrantMapping(FileDescriptor gntdev, ushort domid, uint gref, ulong index)
    {
        var added = false;
        gntdev.DangerousAddRef(ref added);
        _gntdev = gntdev;
        DomId = domid;
        Gref = gref;
        _index = index;
    }

    public ushort DomId { get; }
    public uint Gref { get; }

    public nint Address => _disposed == 0 ? _address : throw new ObjectDisposedException(nameof(LinuxGrantMapping));

    public unsafe void MapPage(bool writable) => _address = (nint)_gntdev.Map(LinuxGrantMapper.PageSize, (long)_index, writable);

    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (_address != 0)
            FileDescriptor.Unmap((void*)_address, LinuxGrantMapper.PageSize);
        _address = 0;
        var request = new IoctlGntdevUnmapGrantRef { Index = _index, Count = 1 };
        // A failure here leaves an index reserved in this descriptor until it closes; there is nothing
        // better to do, and throwing from Dispose would hide the caller's own error.
        _gntdev.Ioctl(GntdevIoctl.UnmapGrantRef, &request, out _);
        _gntdev.DangerousRelease();
    }
}
