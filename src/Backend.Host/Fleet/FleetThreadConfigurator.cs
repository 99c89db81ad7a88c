using Akka.Configuration;
using Akka.Dispatch;

namespace Backend.Host.Fleet;

/// <summary>
/// Akka's hook for a custom executor (a dispatcher's <c>executor</c> names this type): one
/// <see cref="FleetThread"/> per dispatcher.
/// </summary>
public sealed class FleetThreadConfigurator(Config config, IDispatcherPrerequisites prerequisites)
    : ExecutorServiceConfigurator(config, prerequisites)
{
    public override ExecutorService Produce(string id) => new FleetThread(id);
}
