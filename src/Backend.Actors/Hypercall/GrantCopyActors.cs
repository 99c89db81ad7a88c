using Akka.Actor;

namespace Backend.Actors.Hypercall;

/// <summary>The hypercall actors, one per core; a guest's rings all use the one its domid picks.</summary>
public sealed class GrantCopyActors(IReadOnlyList<IActorRef> actors)
{
    public IActorRef For(ushort domid) => actors[domid % actors.Count];
}
