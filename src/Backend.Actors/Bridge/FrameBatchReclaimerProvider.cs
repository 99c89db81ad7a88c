using Akka.Actor;

namespace Backend.Actors.Bridge;

/// <summary>Akka's extension id of <see cref="FrameBatchReclaimer"/>: one instance per actor system.</summary>
internal sealed class FrameBatchReclaimerProvider : ExtensionIdProvider<FrameBatchReclaimer>
{
    public override FrameBatchReclaimer CreateExtension(ExtendedActorSystem system) => new(system);
}
