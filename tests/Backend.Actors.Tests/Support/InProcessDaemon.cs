using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Status;
using Backend.Actors.Xenbus;
using Backend.Xen.Buffers;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// One run of the backend inside the test process, as the daemon would be: its own actor system, its
/// own SIMXEN platform (backend domain 0 on the fixture's root), its own xenstore connection, bridges,
/// buffers and status, and the xenbus supervisor. Stopping it is the daemon's orderly stop
/// (<see cref="ActorSystem.Terminate"/>, then the platform); xenstore (the fixture's server) outlives it,
/// as SIMXEN's restart promises assume. The fixture's own platform must be disposed first: a domain has
/// one owner.
/// </summary>
public sealed class InProcessDaemon : IAsyncDisposable
{
    private readonly PacketBufferPool _buffers;
    private readonly IActorRef _supervisor;
    private int _stopped;

    private InProcessDaemon(ActorSystem system, IActorRef supervisor, SimXenPlatform platform, IXenStore store, PacketBufferPool buffers, VifStatusRegistry status)
    {
        System = system;
        _supervisor = supervisor;
        Platform = platform;
        XenStore = store;
        _buffers = buffers;
        Status = status;
    }

    public ActorSystem System { get; }
    public SimXenPlatform Platform { get; }
    public IXenStore XenStore { get; }
    public VifStatusRegistry Status { get; }

    public static async Task<InProcessDaemon> StartAsync(SimBackendFixture sim, string name)
    {
        var socket = sim.SocketPath;
        var platform = new SimXenPlatform(sim.Root, 0, async ct => await XenStoreClient.ConnectAsync(socket, ct));
        // As the daemon's (XenEnvironment): a lost connection is replaced.
        var store = await XenStoreClient.ConnectAsync(socket, reconnect: true);
        // Two lanes, as the daemon has on a 2-core machine, so that tests run the data path on lane threads.
        var system = ActorSystem.Create(name, "akka.loglevel = INFO\n" + GrantCopyActors.DispatcherHocon(2));
        var buffers = new PacketBufferPool();
        var status = new VifStatusRegistry();
        var lanes = GrantCopyActors.Start(system, 2, platform.CreateGrantCopier);
        var services = new BackendServices(platform, store, new BridgeSet(TimeProvider.System), buffers, lanes, status,
            new BackendOptions { WriteHotplugStatus = true });
        var supervisor = system.ActorOf(XenbusSupervisor.Props(services), "xenbus");
        return new InProcessDaemon(system, supervisor, platform, store, buffers, status);
    }

    /// <summary>
    /// The orderly stop, as DaemonHost's: no new TX requests are taken, frames queued for the guests are
    /// delivered (bounded), then the actor system stops (every vif tree unbinds and unmaps) and the platform.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        // DaemonHost gives this half a second; a test machine shared with others gets more.
        await OrderlyStop.QuiesceAndFlushAsync(_supervisor, _buffers, TimeSpan.FromSeconds(5));
        await System.Terminate();
        await Platform.DisposeAsync();
        await XenStore.DisposeAsync();
        _buffers.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
