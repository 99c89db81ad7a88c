namespace Backend.Host.Fleet;

/// <summary>
/// The dispatcher the fleet runs on (<see cref="FleetThread"/>): Akka.Remote's, Akka.Cluster's and
/// DistributedData's actors, Akka's internal dispatcher (which the cluster's system actors also use) and
/// <see cref="FleetPublisher"/>. Only when the cluster is on; with it off the actor system is as before.
/// </summary>
public static class FleetDispatcher
{
    /// <summary>The dispatcher's id.</summary>
    public const string Id = "xnb-fleet-dispatcher";

    private static readonly string Definition =
        $"{{ type = Dispatcher\n executor = \"{typeof(FleetThreadConfigurator).FullName}, {typeof(FleetThreadConfigurator).Assembly.GetName().Name}\"\n throughput = 100 }}\n";

    /// <summary>HOCON that defines the dispatcher and points the fleet's components at it.</summary>
    public static readonly string Hocon =
        $"{Id} {Definition}" +
        $"akka.actor.internal-dispatcher {Definition}" +
        $"akka.remote.use-dispatcher = {Id}\n" +
        $"akka.remote.default-remote-dispatcher {Definition}" +
        $"akka.remote.backoff-remote-dispatcher {Definition}" +
        $"akka.cluster.use-dispatcher = {Id}\n" +
        $"akka.cluster.distributed-data.use-dispatcher = {Id}\n";
}
