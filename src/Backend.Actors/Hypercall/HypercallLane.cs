using Akka.Actor;

namespace Backend.Actors.Hypercall;

/// <summary>
/// One hypercall actor and the dispatcher it runs on: a single dedicated thread that the rings affine to
/// it run on as well. A drain's grant-copy batch still goes to the hypercall actor as a message, but the
/// message is taken on the thread that sent it, so a frame costs no wake-up of another thread between
/// its ring, its copy and the bridge (the profile of the daemon showed those wake-ups, not the work, to
/// be the cost). <see cref="Dispatcher"/> is null where the actor system has no lane dispatchers (tests
/// that run the actors on the default dispatcher).
/// </summary>
public sealed record HypercallLane(IActorRef Copier, string? Dispatcher)
{
    /// <summary>Puts <paramref name="props"/> on this lane's thread, when it has one.</summary>
    public Props Place(Props props) => Dispatcher is null ? props : props.WithDispatcher(Dispatcher);
}
