using Backend.Xen.EventChannels;
using Backend.Xen.Grants;
using Backend.Xen.Platform.Native;
using Backend.Xen.XenStore;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// Real Xen through Linux's <c>/dev/xen</c> devices: gntdev for grant maps and copies, evtchn for event
/// channels, the xenbus device (or xenstored's socket) for xenstore.
/// </summary>
public sealed class LinuxXenPlatform : IXenPlatform
{
    private readonly Func<Stream, IXenStore> _xenStoreFactory;
    private readonly XenBusDevice _xenBus;
    private readonly string _gntdevPath;
    private readonly LinuxGrantMapper _grantMapper;
    private readonly LinuxEventChannels _eventChannels;

    /// <param name="backendDomId">Our own domain id (0 in dom0; a driver domain reads its <c>domid</c> key).</param>
    /// <param name="xenStoreFactory">Makes the xs_wire client over a connection's Stream; it owns the Stream.</param>
    /// <param name="handlerFailed">Told when an event channel handler throws.</param>
    /// <param name="readerFailed">Told when reading the evtchn device fails (no notification arrives after that).</param>
    /// <exception cref="XenPlatformUnavailableException">The kernel's xen-netback is loaded.</exception>
    /// <exception cref="LinuxDeviceException">A device could not be opened; the message names it.</exception>
    public LinuxXenPlatform(
        ushort backendDomId,
        Func<Stream, IXenStore> xenStoreFactory,
        Action<uint, Exception>? handlerFailed = null,
        Action<Exception>? readerFailed = null)
        : this(backendDomId, xenStoreFactory, GntdevIoctl.DevicePath, EvtchnIoctl.DevicePath, new XenBusDevice(),
            KernelNetbackCheck.ModuleDirectory, handlerFailed, readerFailed)
    {
    }

    internal LinuxXenPlatform(
        ushort backendDomId,
        Func<Stream, IXenStore> xenStoreFactory,
        string gntdevPath,
        string evtchnPath,
        XenBusDevice xenBus,
        string kernelNetbackModuleDirectory,
        Action<uint, Exception>? handlerFailed,
        Action<Exception>? readerFailed)
    {
        ArgumentNullException.ThrowIfNull(xenStoreFactory);
        if (KernelNetbackCheck.RefusalReason(kernelNetbackModuleDirectory) is { } reason)
            throw new XenPlatformUnavailableException(reason);
        BackendDomId = backendDomId;
        _xenStoreFactory = xenStoreFactory;
        _xenBus = xenBus;
        _gntdevPath = gntdevPath;
        _grantMapper = new LinuxGrantMapper(gntdevPath);
        try
        {
            _eventChannels = new LinuxEventChannels(evtchnPath, handlerFailed, readerFailed);
        }
        catch
        {
            _grantMapper.Dispose();
            throw;
        }
    }

    public ushort BackendDomId { get; }

    public IGrantMapper GrantMapper => _grantMapper;

    public IEventChannels EventChannels => _eventChannels;

    public Task<IXenStore> ConnectXenStoreAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stream = _xenBus.OpenStream();
        try
        {
            return Task.FromResult(_xenStoreFactory(stream));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>A copier with its own gntdev descriptor; the caller disposes it (it is <see cref="IDisposable"/>).</summary>
    public IGrantCopier CreateGrantCopier() => new LinuxGrantCopier(_gntdevPath);

    public ValueTask DisposeAsync()
    {
        _eventChannels.Dispose();
        _grantMapper.Dispose();
        return ValueTask.CompletedTask;
    }
}
