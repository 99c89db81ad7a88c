using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// The read/dispatch/unmask step of the evtchn device: a read returns the pending ports as uint32s, each
/// masked by the kernel until written back; we call the dispatcher for every port, then write back the
/// ports it wants unmasked now. Unmasking after the handlers means an event that arrives while a handler
/// runs is queued again rather than lost. A late-EOI port (the dispatcher answers false) stays masked
/// until its owner is done with the event and calls <see cref="Unmask"/> (XSA-332): until then a guest
/// that notifies in a loop costs this thread nothing.
/// </summary>
/// <remarks>
/// The reading and unmasking descriptors are separate only so that a test can drive this with pipes; on
/// the real device they are the same descriptor. One read per readiness: poll is level-triggered, and a
/// blocking stand-in (a pipe) must never be read when empty.
/// </remarks>
internal sealed unsafe class EventChannelReader : IPollable
{
    /// <summary>The kernel's initial per-descriptor queue holds a page of ports; a full one per read keeps wake-ups few.</summary>
    private const int MaxPortsPerRead = 1024;

    private readonly FileDescriptor _unmask;
    private readonly Func<uint, bool> _dispatch;
    private readonly uint[] _ports = new uint[MaxPortsPerRead];

    /// <param name="dispatch">Hands a port's event on; true when the port is to be unmasked at once.</param>
    public EventChannelReader(FileDescriptor source, FileDescriptor unmask, Func<uint, bool> dispatch)
    {
        Handle = source;
        _unmask = unmask;
        _dispatch = dispatch;
    }

    public FileDescriptor Handle { get; }

    /// <summary>Ports read so far (diagnostics and tests).</summary>
    public long PortsRead { get; private set; }

    public void OnReadable()
    {
        long bytes;
        fixed (uint* ports = _ports)
            bytes = LibC.read(Handle.Fd, ports, _ports.Length * sizeof(uint));
        if (bytes < 0)
        {
            var errno = Errno.Last;
            if (errno is Errno.EAGAIN or Errno.EINTR)
                return;
            // EFBIG is the kernel's queue overflow; with every queued port masked until we write it back,
            // it takes more bound ports than the queue holds, which this daemon never binds on one descriptor.
            throw new LinuxDeviceException(Handle.Path, "read", errno);
        }
        if (bytes == 0)
            throw new LinuxDeviceException(Handle.Path, "read", Errno.EINVAL, "end of file: the event channel source closed");

        var count = (int)(bytes / sizeof(uint));
        PortsRead += count;
        var unmasking = 0;
        for (var i = 0; i < count; i++)
        {
            var port = _ports[i];
            if (_dispatch(port))
                _ports[unmasking++] = port;
        }
        if (unmasking > 0)
            Write(_ports.AsSpan(0, unmasking));
    }

    /// <summary>Unmasks a late-EOI port (any thread): the device takes the written port as its EOI.</summary>
    public void Unmask(uint port) => Write(new ReadOnlySpan<uint>(in port));

    private void Write(ReadOnlySpan<uint> ports)
    {
        long written;
        fixed (uint* p = ports)
            written = LibC.write(_unmask.Fd, p, ports.Length * sizeof(uint));
        if (written < 0)
            throw new LinuxDeviceException(_unmask.Path, "write (unmask)", Errno.Last);
    }
}
