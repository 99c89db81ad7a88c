using System.Collections.Concurrent;
using Backend.Xen.EventChannels;
using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// Event channels through <c>/dev/xen/evtchn</c>: interdomain binds, notifications, and one dedicated
/// poll thread that reads every pending port of this descriptor and calls its handler. The device masks a
/// port from its event until the port is written back: at once after the handler for an ordinary binding,
/// at <see cref="LateEoi"/> for a late-EOI one.
/// </summary>
public sealed class LinuxEventChannels : IEventChannels
{
    private readonly FileDescriptor _evtchn;
    private readonly ConcurrentDictionary<uint, Binding> _handlers = new();
    private readonly Action<uint, Exception>? _handlerFailed;
    private readonly Action<Exception>? _readerFailed;
    private readonly PollThread _poll;
    private readonly EventChannelReader _reader;

    private sealed record Binding(IEventChannelHandler Handler, bool LateEoi);

    /// <param name="handlerFailed">Told when a handler throws; the port stays bound and is unmasked.</param>
    /// <param name="readerFailed">Told when reading the device fails; no notification is delivered after that.</param>
    public LinuxEventChannels(
        string evtchnPath = EvtchnIoctl.DevicePath,
        Action<uint, Exception>? handlerFailed = null,
        Action<Exception>? readerFailed = null)
    {
        _evtchn = FileDescriptor.Open(evtchnPath, LibC.O_RDWR | LibC.O_NONBLOCK, EvtchnIoctl.MissingHint);
        _handlerFailed = handlerFailed;
        _readerFailed = readerFailed;
        try
        {
            _poll = new PollThread("xnb-evtchn", (_, e) => _readerFailed?.Invoke(e));
            _reader = new EventChannelReader(_evtchn, _evtchn, Dispatch);
            _poll.Add(_reader);
        }
        catch
        {
            _evtchn.Dispose();
            throw;
        }
    }

    public uint BindInterdomain(ushort remoteDomain, uint remotePort, IEventChannelHandler handler) =>
        Bind(remoteDomain, remotePort, handler, lateEoi: false);

    public uint BindInterdomainLateEoi(ushort remoteDomain, uint remotePort, IEventChannelHandler handler) =>
        Bind(remoteDomain, remotePort, handler, lateEoi: true);

    public void LateEoi(uint localPort, IEventChannelHandler handler)
    {
        if (_handlers.TryGetValue(localPort, out var binding) && binding.LateEoi && ReferenceEquals(binding.Handler, handler))
            _reader.Unmask(localPort);
    }

    private unsafe uint Bind(ushort remoteDomain, uint remotePort, IEventChannelHandler handler, bool lateEoi)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var request = new IoctlEvtchnBindInterdomain { RemoteDomain = remoteDomain, RemotePort = remotePort };
        var port = _evtchn.Ioctl(EvtchnIoctl.BindInterdomain, &request, out var errno);
        if (port < 0)
        {
            throw new LinuxDeviceException(
                _evtchn.Path, $"IOCTL_EVTCHN_BIND_INTERDOMAIN (domain {remoteDomain}, port {remotePort})", errno,
                errno == Errno.EINVAL && KernelNetbackCheck.IsLoaded() ? KernelNetbackCheck.Reason : null);
        }
        // A notification read before the handler is in place finds none and is only unmasked; that is
        // safe because every user of a new binding re-checks its rings once bound, as ring.h expects.
        _handlers[(uint)port] = new Binding(handler, lateEoi);
        return (uint)port;
    }

    public unsafe void Unbind(uint localPort)
    {
        if (!_handlers.TryRemove(localPort, out _))
            return;
        var port = localPort;
        if (_evtchn.Ioctl(EvtchnIoctl.Unbind, &port, out var errno) < 0)
            throw new LinuxDeviceException(_evtchn.Path, $"IOCTL_EVTCHN_UNBIND (port {localPort})", errno);
    }

    public unsafe void Notify(uint localPort)
    {
        // Xen ignores a notification on an unbound port; the device would refuse one that is not ours.
        if (!_handlers.ContainsKey(localPort))
            return;
        var port = localPort;
        if (_evtchn.Ioctl(EvtchnIoctl.Notify, &port, out var errno) < 0)
            throw new LinuxDeviceException(_evtchn.Path, $"IOCTL_EVTCHN_NOTIFY (port {localPort})", errno);
    }

    public void Dispose()
    {
        _poll.Dispose();
        // Closing the descriptor unbinds every port it still holds, as the kernel's evtchn_release does.
        _handlers.Clear();
        _evtchn.Dispose();
    }

    /// <returns>True when the port is to be unmasked now; a late-EOI port's handler unmasks it later.</returns>
    private bool Dispatch(uint port)
    {
        if (!_handlers.TryGetValue(port, out var binding))
            return true;
        try
        {
            binding.Handler.OnEvent(port);
            return !binding.LateEoi;
        }
        catch (Exception e)
        {
            // A handler that failed may never get to its late EOI: unmask, as for an ordinary port.
            _handlerFailed?.Invoke(port, e);
            return true;
        }
    }
}
