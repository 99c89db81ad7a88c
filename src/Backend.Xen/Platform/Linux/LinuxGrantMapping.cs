using System.Runtime.InteropServices;
using Backend.Xen.Grants;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// One page mapped through gntdev. It holds a reference on the gntdev descriptor so that the mapper's
/// disposal cannot close the descriptor under a live mapping; disposing unmaps the page, then releases
/// the gntdev index (in that order: the kernel unmaps the grant when the last user of the index goes).
/// </summary>
internal sealed class LinuxGrantMapping : IGrantMapping
{
    private readonly DeviceHandle _gntdev;
    private readonly ulong _index;
    private nint _address;
    private int _disposed;

    public LinuxGrantMapping(DeviceHandle gntdev, ushort domid, uint gref, ulong index)
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

    public void MapPage(bool writable)
    {
        var protection = LibC.PROT_READ | (writable ? LibC.PROT_WRITE : 0);
        var address = LibC.Mmap(0, LinuxGrantMapper.PageSize, protection, LibC.MAP_SHARED, _gntdev.Fd, (long)_index);
        if (address == LibC.MAP_FAILED)
            throw new LinuxDeviceException(_gntdev.Path, "mmap", Marshal.GetLastPInvokeError());
        _address = address;
    }

    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (_address != 0)
            LibC.Munmap(_address, LinuxGrantMapper.PageSize);
        _address = 0;
        var request = new IoctlGntdevUnmapGrantRef { Index = _index, Count = 1 };
        // A failure here leaves an index reserved in this descriptor until it closes; there is nothing
        // better to do, and throwing from Dispose would hide the caller's own error.
        _gntdev.Ioctl(GntdevIoctl.UnmapGrantRef, &request, out _);
        _gntdev.DangerousRelease();
    }
}
