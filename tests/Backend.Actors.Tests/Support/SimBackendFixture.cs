using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Status;
using Backend.Xen.Buffers;
using Backend.Xen.Platform;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// A SIMXEN world for one test: a fresh root under /dev/shm, the embedded xenstore server on it, a
/// client for the test (the toolstack and the frontend's side) and one for the backend, and the
/// simulated platform of backend domain 0.
/// </summary>
public sealed class SimBackendFixture : IAsyncDisposable
{
    private readonly SimTestRoot _root;

    private SimBackendFixture(SimTestRoot root, IXenStore test, IXenStore backend, SimXenPlatform platform)
    {
        _root = root;
        XenStore = test;
        BackendXenStore = backend;
        Platform = platform;
    }

    public SimRoot Root => _root.Root;
    public XenStoreServer Server => _root.Server;
    /// <summary>The test's own connection (it plays the toolstack and the frontends).</summary>
    public IXenStore XenStore { get; }
    public IXenStore BackendXenStore { get; }
    public SimXenPlatform Platform { get; }
    public VifStatusRegistry Status { get; } = new();
    public BridgeSet Bridges { get; } = new(TimeProvider.System);
    public PacketBufferPool Buffers { get; } = new();

    public string SocketPath => _root.XenStoreSocket;

    public static async Task<SimBackendFixture> CreateAsync()
    {
        var root = await SimTestRoot.WithXenStoreAsync();
        var socket = root.XenStoreSocket;
        var test = await XenStoreClient.ConnectAsync(socket);
        // The backend's, as the daemon's: a lost connection is replaced.
        var backend = await XenStoreClient.ConnectAsync(socket, reconnect: true);
        var platform = new SimXenPlatform(root.Root, 0, async ct => await XenStoreClient.ConnectAsync(socket, ct));
        return new SimBackendFixture(root, test, backend, platform);
    }

    /// <summary>The services a vif tree needs; hypercall actors run on the test system's default dispatcher.</summary>
    public BackendServices Services(ActorSystem system, BackendOptions? options = null)
    {
        var copier = system.ActorOf(Props.Create(() => new GrantCopyActor(Platform.CreateGrantCopier())));
        return new BackendServices(Platform, BackendXenStore, Bridges, Buffers, new GrantCopyActors([new HypercallLane(copier, null)]), Status,
            options ?? new BackendOptions { WriteHotplugStatus = true });
    }

    /// <summary>
    /// The services with <paramref name="lanes"/> lanes of one dedicated thread each, as the daemon runs
    /// them (<paramref name="system"/> must be configured with <see cref="GrantCopyActors.DispatcherHocon"/>),
    /// on the fixture's platform or on <paramref name="platform"/>, which stands in front of it.
    /// </summary>
    public BackendServices ServicesOnLanes(ActorSystem system, int lanes, IXenPlatform? platform = null) =>
        new(platform ?? Platform, BackendXenStore, Bridges, Buffers, GrantCopyActors.Start(system, lanes, Platform.CreateGrantCopier), Status,
            new BackendOptions { WriteHotplugStatus = true });

    public async ValueTask DisposeAsync()
    {
        await XenStore.DisposeAsync();
        await BackendXenStore.DisposeAsync();
        await Platform.DisposeAsync();
        // The server, then the root with what the test left in it.
        await _root.DisposeAsync();
        Buffers.Dispose();
    }
}
