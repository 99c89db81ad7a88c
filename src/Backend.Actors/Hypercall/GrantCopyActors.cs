using System.Text;
using Akka.Actor;
using Backend.Xen.Grants;

namespace Backend.Actors.Hypercall;

/// <summary>
/// The hypercall lanes, one per core by default; a guest's rings (and TAP port) all run on the one its
/// domid picks. Lanes do not share threads, so guests on different lanes run in parallel while each
/// guest's drains never cross a thread inside the daemon.
/// </summary>
public sealed class GrantCopyActors(IReadOnlyList<HypercallLane> lanes)
{
    public const string LaneDispatcherPrefix = "xnb-lane-";

    public int Count => lanes.Count;

    public HypercallLane For(ushort domid) => lanes[domid % lanes.Count];

    /// <summary>
    /// The lane of queue <paramref name="queue"/> of domain <paramref name="domid"/>'s vif: the next lanes
    /// after the domain's own (decision 81), so queue 0 is where a one-queue vif has always been and a
    /// vif's queues run on as many different lanes as there are, up to the number of lanes.
    /// </summary>
    public HypercallLane For(ushort domid, int queue) => lanes[(domid + queue) % lanes.Count];

    /// <summary>Every lane, in the order of their dispatchers (lane n runs on <c>xnb-lane-n</c>).</summary>
    public IReadOnlyList<HypercallLane> Lanes => lanes;

    /// <summary>
    /// The HOCON of <paramref name="count"/> lane dispatchers: each a pool of exactly one dedicated thread.
    /// It must be part of the actor system's configuration before <see cref="Start"/>.
    /// </summary>
    public static string DispatcherHocon(int count)
    {
        var hocon = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            // Throughput bounds how many messages one actor takes before the next actor of the lane gets
            // the thread: a drain is one message, so this is fairness between guests, not batching.
            hocon.Append(LaneDispatcherPrefix).Append(i).Append(
                " { type = ForkJoinDispatcher, throughput = 16, dedicated-thread-pool { thread-count = 1, threadtype = background } }\n");
        }
        return hocon.ToString();
    }

    /// <summary>Starts one hypercall actor per lane, each on its lane's dispatcher.</summary>
    public static GrantCopyActors Start(IActorRefFactory system, int count, Func<IGrantCopier> createCopier)
    {
        var lanes = new List<HypercallLane>(count);
        for (var i = 0; i < count; i++)
        {
            var dispatcher = LaneDispatcherPrefix + i;
            var copier = system.ActorOf(GrantCopyActor.Props(createCopier()).WithDispatcher(dispatcher), $"hypercall-{i}");
            lanes.Add(new HypercallLane(copier, dispatcher));
        }
        return new GrantCopyActors(lanes);
    }
}
