using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Scheduling;
using Backend.Actors.Status;
using Backend.Xen.Buffers;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// One run of the backend inside the test process, as the daemon would be: its own actor system, its
/// own SIMXEN platform (backend domain 0, or the one given, on the fixture's root), its own xenstore connection, bridges,
/// buffers and status, and the backend's actors started as DaemonHost starts them (<see cref="BackendActors"/>).
/// Stopping it is the daemon's orderly stop (<see cref="BackendActors.QuiesceAndFlushAsync"/>,
/// <see cref="ActorSystem.Terminate"/>, then the platform); xenstore (the fixture's server) outlives it,
/// as SIMXEN's restart promises assume. The fixture's own platform must be disposed first: a domain has
/// one owner.
/// </summary>
public sealed class InProcessDaemon : IAsyncDisposable
{
    private readonly BackendActors _backend;
    private int _stopped;

    private InProcessDaemon(ActorSystem system, BackendActors backend, SimXenPlatform platform, IXenStore store)
    {
        System = system;
        _backend = backend;
        Platform = platform;
        XenStore = store;
    }

    public ActorSystem System { get; }
    public SimXenPlatform Platform { get; }
    public IXenStore XenStore { get; }
    public VifStatusRegistry Status => _backend.Services.Status;

    /// <param name="backendDomId">The daemon's domain: 0, or a driver domain's (SIMXEN: it owns <c>ROOT/dom&lt;B&gt;/</c>).</param>
    /// <param name="maxQueues">The daemon's <c>MaxQueues</c> (1: frontends are held to one queue, as a one-lane host's).</param>
    public static async Task<InProcessDaemon> StartAsync(SimBackendFixture sim, string name, ushort backendDomId = 0, int maxQueues = 1)
    {
        var socket = sim.SocketPath;
        var platform = new SimXenPlatform(sim.Root, backendDomId, async ct => await XenStoreClient.ConnectAsync(socket, ct));
        // As the daemon's (XenEnvironment): a lost connection is replaced.
        var store = await XenStoreClient.ConnectAsync(socket, reconnect: true);
        // Two lanes, as the daemon has on a 2-core machine, so that tests run the data path on lane threads.
        var system = ActorSystem.Create(name, "akka.loglevel = INFO\n" + DeadlineScheduler.Hocon + GrantCopyActors.DispatcherHocon(2));
        var backend = BackendActors.Start(system, 2, platform, lanes => new BackendServices(platform, store, new BridgeSet(TimeProvider.System),
            new PacketBufferPool(), lanes, new VifStatusRegistry(), new BackendOptions { WriteHotplugStatus = true, MaxQueues = maxQueues }));
        return new InProcessDaemon(system, backend, platform, store);
    }

    /// <summary>
    /// The orderly stop, as DaemonHost's: no TX ring is read any more, the frames taken from them are
    /// delivered (bounded), then the actor system stops (every vif tree unbinds and unmaps) and the platform.
    /// </summary>
    /// <returns>Whether the flush completed (false: it timed out, and what was in flight was dropped); false when stopped already.</returns>
    public async Task<bool> StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return false;
        // DaemonHost gives this half a second; a test machine shared with others gets more.
        var flushed = await _backend.QuiesceAndFlushAsync(TimeSpan.FromSeconds(5));
        await System.Terminate();
        await Platform.DisposeAsync();
        await XenStore.DisposeAsync();
        _backend.Services.Buffers.Dispose();
        return flushed;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
