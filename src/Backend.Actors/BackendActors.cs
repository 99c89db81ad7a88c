using Akka.Actor;
using Backend.Actors.Hypercall;
using Backend.Actors.Xenbus;
using Backend.Xen.Platform;

namespace Backend.Actors;

/// <summary>
/// The backend's actors in an actor system, wired in this one place for the daemon (DaemonHost) and for
/// the tests' in-process daemon: the data-path lanes (one hypercall actor each), then what the host puts
/// beside the vifs (uplinks, a listener for <see cref="XenbusProtocol.Ready"/>), then the xenbus supervisor,
/// which finds the vifs. <see cref="QuiesceAndFlushAsync"/> is the first half of the orderly stop;
/// terminating the actor system is the second.
/// </summary>
public sealed class BackendActors
{
    private readonly ActorSystem _system;

    private BackendActors(BackendServices services, IActorRef xenbus, ActorSystem system)
    {
        Services = services;
        Xenbus = xenbus;
        _system = system;
    }

    public BackendServices Services { get; }

    /// <summary>The data-path lanes.</summary>
    public GrantCopyActors Lanes => Services.Hypercalls;

    /// <summary>The xenbus supervisor.</summary>
    public IActorRef Xenbus { get; }

    /// <param name="system">Configured with <see cref="GrantCopyActors.DispatcherHocon"/> for <paramref name="lanes"/> lanes.</param>
    /// <param name="lanes">Data-path lanes, of one dedicated thread each; their grant copiers come from <paramref name="platform"/>.</param>
    /// <param name="platform">The Xen platform the services are made for.</param>
    /// <param name="services">What every vif's actors share, made once the lanes exist.</param>
    /// <param name="beforeXenbus">
    /// Started before the supervisor, so that it misses nothing the supervisor does from its first
    /// moment: the uplinks (bridge ports the vifs' frames may already go to), a listener for Ready.
    /// </param>
    public static BackendActors Start(ActorSystem system, int lanes, IXenPlatform platform,
        Func<GrantCopyActors, BackendServices> services, Action<BackendServices>? beforeXenbus = null)
    {
        var shared = services(GrantCopyActors.Start(system, lanes, platform.CreateGrantCopier));
        Bridge.FrameBatchReclaimer.For(system).CountInto(shared.Status);
        beforeXenbus?.Invoke(shared);
        return new BackendActors(shared, system.ActorOf(XenbusSupervisor.Props(shared), "xenbus"), system);
    }

    /// <summary>
    /// The flush of an orderly stop (<see cref="OrderlyStop"/>): no TX ring is read any more, then it waits
    /// until every frame taken from one is delivered or <paramref name="timeout"/> has passed.
    /// </summary>
    /// <returns>True when the data path was flushed, false at the timeout.</returns>
    public Task<bool> QuiesceAndFlushAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        OrderlyStop.QuiesceAndFlushAsync(Services.TxIntake, Services.Buffers, timeout, cancellationToken);

    /// <summary>
    /// Makes the TX or RX ring actor of one vif's queue 0 throw, as a bug would (the soak's fault hook; the
    /// host exposes it only when asked to, see <c>Backend.Host/Soak/SoakFaultEndpoint</c>). The queue actor
    /// restarts that queue's data path. A vif without rings ignores it (the message goes to dead letters).
    /// </summary>
    public void InjectRingFault(Backend.Xen.Xenbus.VifId vif, bool tx, string reason) =>
        // The queue actor of a later connection is named queue-0-N (VifConnection.ChildName): the pattern finds it.
        _system.ActorSelection($"/user/xenbus/vif{vif.DomId}.{vif.Handle}/queue-0*/{(tx ? "tx" : "rx")}")
            .Tell(new Rings.RingProtocol.InjectFault(reason));
}
