using Backend.Xen.Platform.Native;
using Backend.Xen.Platform;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;
using Backend.Xen.Xenbus;

namespace Backend.Host.Hosting;

/// <summary>
/// The Xen the daemon runs on, opened: the platform, the daemon's xenstore connection and, under SIMXEN
/// when nobody serves xenstore yet, the embedded xenstore server. Disposing closes them in reverse.
/// </summary>
public sealed class XenEnvironment : IAsyncDisposable
{
    private readonly FileStream _instanceLock;

    private XenEnvironment(IXenPlatform platform, IXenStore xenStore, XenStoreServer? server, SimRoot? root, bool ownsRoot, FileStream instanceLock)
    {
        Platform = platform;
        XenStore = xenStore;
        EmbeddedXenStore = server;
        SimRoot = root;
        OwnsRoot = ownsRoot;
        _instanceLock = instanceLock;
    }

    public IXenPlatform Platform { get; }

    public IXenStore XenStore { get; }

    public XenStoreServer? EmbeddedXenStore { get; }

    /// <summary>The SIMXEN root, or null on real Xen.</summary>
    public SimRoot? SimRoot { get; }

    /// <summary>The demo made the root and removes it when it stops.</summary>
    public bool OwnsRoot { get; }

    public bool Simulated => SimRoot is not null;

    public string Describe() => Simulated ? $"simulated Xen at {SimRoot}" : "Linux /dev/xen";

    /// <exception cref="StartupException">Anything that stops the daemon from starting, said in one line.</exception>
    public static async Task<XenEnvironment> OpenAsync(DaemonSettings settings, string? demoRoot, CancellationToken cancellationToken)
    {
        XenPlatformKind kind;
        try
        {
            kind = XenPlatformDetector.Detect(settings.Xen == "auto" ? null : settings.Xen);
        }
        catch (XenPlatformUnavailableException ex)
        {
            throw new StartupException(ex.Message);
        }
        return kind == XenPlatformKind.Linux
            ? await OpenLinuxAsync(settings, cancellationToken)
            : await OpenSimulatedAsync(settings, (ushort)(settings.DomId ?? 0), demoRoot, cancellationToken);
    }

    private static async Task<XenEnvironment> OpenLinuxAsync(DaemonSettings settings, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory("/run/xnb");
        var instanceLock = TakeInstanceLock("/run/xnb/xnb.lock");
        XenStoreClient? xs = null;
        try
        {
            // xenstore first: without --domid the backend's own domain is read from it (a driver domain's
            // is not 0), and the platform is made for that domain.
            xs = settings.XenStore is { } path ? await ConnectAsync(path, cancellationToken) : OpenXenBus();
            var domid = settings.DomId is { } given ? (ushort)given : await ReadOwnDomIdAsync(xs, cancellationToken);
            LinuxXenPlatform platform;
            try
            {
                platform = new LinuxXenPlatform(domid, stream => new XenStoreClient(stream));
            }
            catch (Exception ex) when (ex is XenPlatformUnavailableException or LinuxDeviceException)
            {
                throw new StartupException(ex.Message);
            }
            return new XenEnvironment(platform, xs, null, null, false, instanceLock);
        }
        catch
        {
            if (xs is not null)
                await xs.DisposeAsync();
            instanceLock.Dispose();
            throw;
        }
    }

    /// <summary>xenstored's socket or the xenbus device, as <see cref="LinuxXenPlatform.ConnectXenStoreAsync"/> opens it.</summary>
    private static XenStoreClient OpenXenBus()
    {
        try
        {
            return new XenStoreClient(new XenBusDevice().OpenStream());
        }
        catch (Exception ex) when (ex is LinuxDeviceException or IOException or System.Net.Sockets.SocketException)
        {
            throw new StartupException($"xenstore: {ex.Message}");
        }
    }

    /// <summary>The backend's own domain from xenstore (<see cref="BackendDomain"/>), when <c>--domid</c> is not given.</summary>
    private static async Task<ushort> ReadOwnDomIdAsync(XenStoreClient xs, CancellationToken cancellationToken)
    {
        try
        {
            return await BackendDomain.ReadOwnDomIdAsync(xs, cancellationToken);
        }
        catch (Exception ex) when (ex is VifConfigException or XenStoreErrorException or XenStoreConnectionException or IOException)
        {
            throw new StartupException($"cannot read this domain's id from xenstore (give --domid): {ex.Message}");
        }
    }

    private static async Task<XenEnvironment> OpenSimulatedAsync(DaemonSettings settings, ushort domid, string? demoRoot, CancellationToken cancellationToken)
    {
        var rootPath = settings.SimRoot ?? demoRoot ?? throw new StartupException("no --sim-root given");
        SimRoot root;
        try
        {
            root = new SimRoot(rootPath);
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"sim root {rootPath}: {ex.Message}");
        }
        Directory.CreateDirectory(root.DomainDirectory(domid));
        var instanceLock = TakeInstanceLock(root.DomainFile(domid, "xnb.lock"));
        XenStoreServer? server = null;
        try
        {
            var socketPath = Path.Combine(root.Path, "xenstored.sock");
            IXenStore xs;
            if (settings.XenStore is { } external)
            {
                xs = await ConnectAsync(external, cancellationToken);
                // SIMXEN: guests find xenstore at ROOT/xenstored.sock; point it at the server we were given.
                if (!File.Exists(socketPath) && !Directory.Exists(socketPath) && new FileInfo(socketPath).LinkTarget is null)
                    File.CreateSymbolicLink(socketPath, Path.GetFullPath(external));
            }
            else
            {
                try
                {
                    xs = await XenStoreClient.ConnectAsync(socketPath, reconnect: true, cancellationToken);
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
                {
                    server = await XenStoreServer.StartAsync(socketPath, cancellationToken: cancellationToken);
                    xs = await XenStoreClient.ConnectAsync(socketPath, reconnect: true, cancellationToken);
                }
            }
            var path = socketPath;
            var platform = new SimXenPlatform(root, domid, async ct => await XenStoreClient.ConnectAsync(path, ct));
            return new XenEnvironment(platform, xs, server, root, demoRoot is not null && settings.SimRoot is null, instanceLock);
        }
        catch
        {
            if (server is not null)
                await server.DisposeAsync();
            instanceLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The daemon's connection to xenstore at a socket path: one that is lost (the server dropped it, or
    /// xenstored restarted) is replaced and its watches set again, so every vif catches up (XenStoreClient).
    /// </summary>
    private static async Task<XenStoreClient> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await XenStoreClient.ConnectAsync(path, reconnect: true, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
        {
            throw new StartupException($"xenstore at {path}: {ex.Message}");
        }
    }

    /// <summary>
    /// A second daemon on the same Xen would fight over the guests' event channels (a bind to a port
    /// that someone holds fails), so only one may run: .NET takes an flock for FileShare.None.
    /// </summary>
    private static FileStream TakeInstanceLock(string path)
    {
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new StartupException($"another xnb daemon is running (it holds {path})");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await XenStore.DisposeAsync();
        await Platform.DisposeAsync();
        if (EmbeddedXenStore is not null)
            await EmbeddedXenStore.DisposeAsync();
        _instanceLock.Dispose();
        if (OwnsRoot && SimRoot is not null)
        {
            try { Directory.Delete(SimRoot.Path, recursive: true); }
            catch (IOException) { }
        }
    }
}
