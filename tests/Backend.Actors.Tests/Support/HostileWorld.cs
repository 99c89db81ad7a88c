using Backend.Xen.Platform.Sim.Netfront;
using Akka.Actor;
using Backend.Actors.Status;
using Backend.Actors.Xenbus;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// A SIMXEN world of three guests on one bridge: a working <see cref="TrafficPair"/> (guests 1 and 2,
/// connected, each MAC learnt) and a connected <see cref="HostileFrontend"/> (guest 3), served by a xenbus
/// supervisor in the test's actor system with the services the test chooses. The actor system must be
/// terminated before the world is disposed: the actors hold ring mappings and event channels.
/// </summary>
public sealed class HostileWorld : IAsyncDisposable
{
    public const ushort Hostile = 3;

    private HostileWorld(SimBackendFixture sim, TrafficPair pair, HostileFrontend front, IXenStore frontClient)
    {
        Sim = sim;
        Pair = pair;
        Front = front;
        FrontClient = frontClient;
    }

    public SimBackendFixture Sim { get; }
    public TrafficPair Pair { get; }
    public HostileFrontend Front { get; }
    public IXenStore FrontClient { get; }

    public VifStatus HostileStatus => Sim.Status.Snapshot().Single(v => v.Id.DomId == Hostile);

    public static async Task<HostileWorld> StartAsync(ActorSystem system, Func<SimBackendFixture, BackendServices> services, CancellationToken ct)
    {
        var sim = await SimBackendFixture.CreateAsync();
        var toolstack = new SimToolstack(sim.XenStore);
        var pair = await TrafficPair.StartAsync(sim, toolstack, 1, 2);
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = Hostile, Handle = 0, Mac = TrafficGuest.MacText(Hostile), Mtu = TrafficPair.Mtu });
        system.ActorOf(XenbusSupervisor.Props(services(sim)), "xenbus");
        var frontClient = await XenStoreClient.ConnectAsync(sim.SocketPath, ct);
        var front = await HostileFrontend.ConnectAsync(sim.Root, frontClient, Hostile, 0, ct);
        await pair.ConnectAsync(ct);
        return new HostileWorld(sim, pair, front, frontClient);
    }

    public async ValueTask DisposeAsync()
    {
        await Pair.DisposeAsync();
        await Front.DisposeAsync();
        await FrontClient.DisposeAsync();
        await Sim.DisposeAsync();
    }
}
