using System.Net.Sockets;
using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// Where the xenstore connection comes from on real Xen: xenstored's Unix socket when it runs in this
/// domain, else the xenbus device <c>/dev/xen/xenbus</c> (which works in a driver domain too). The socket
/// comes first as in libxenstore's <c>xs_open</c>: through the device the kernel relays transactions and
/// watches itself, synchronously (a daemon thread was seen blocked in the kernel's <c>xs_talkv</c> on a
/// Xen 4.17 dom0 while guests were saved and destroyed).
/// </summary>
public sealed class XenBusDevice
{
    public const string DevicePath = "/dev/xen/xenbus";
    public static readonly IReadOnlyList<string> SocketPaths = ["/run/xenstored/socket", "/var/run/xenstored/socket"];

    private readonly string _devicePath;
    private readonly IReadOnlyList<string> _socketPaths;

    public XenBusDevice() : this(DevicePath, SocketPaths)
    {
    }

    internal XenBusDevice(string devicePath, IReadOnlyList<string> socketPaths)
    {
        _devicePath = devicePath;
        _socketPaths = socketPaths;
    }

    /// <summary>The path <see cref="OpenStream"/> will use, or null when none exists.</summary>
    public string? ChoosePath()
    {
        foreach (var socket in _socketPaths)
        {
            if (Path.Exists(socket))
                return socket;
        }
        return Path.Exists(_devicePath) ? _devicePath : null;
    }

    /// <summary>
    /// A new xenstore connection as a Stream: for the device, one write(2) per Write and one read(2) per
    /// Read; for the socket, a NetworkStream (a stream socket has no message boundaries to keep).
    /// </summary>
    public Stream OpenStream()
    {
        var path = ChoosePath() ?? throw new LinuxDeviceException(
            _devicePath, "open", Errno.ENOENT,
            $"no xenstore either: none of {string.Join(", ", _socketPaths)} exists (is this a Xen domain with xenstored running?)");
        if (path == _devicePath)
            return new XenBusStream(FileDescriptor.Open(path, LibC.O_RDWR));

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException) when (Path.Exists(_devicePath))
        {
            // A socket file nobody answers on (xenstored stopped, or runs in another domain): the device.
            socket.Dispose();
            return new XenBusStream(FileDescriptor.Open(_devicePath, LibC.O_RDWR));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
