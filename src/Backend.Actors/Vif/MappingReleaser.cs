using Akka.Actor;

namespace Backend.Actors.Vif;

/// <summary>
/// Unmaps a disconnected vif's ring pages once every actor that used them has terminated, so that no
/// drain still in progress touches an unmapped page.
/// </summary>
public sealed class MappingReleaser : ReceiveActor
{
    private readonly HashSet<IActorRef> _waiting;
    private readonly IReadOnlyList<IDisposable> _mappings;

    public MappingReleaser(IReadOnlyList<IActorRef> users, IReadOnlyList<IDisposable> mappings)
    {
        _waiting = [.. users];
        _mappings = mappings;
        Receive<Terminated>(t =>
        {
            _waiting.Remove(t.ActorRef);
            if (_waiting.Count == 0)
                Context.Stop(Self);
        });
    }

    public static Props Props(IReadOnlyList<IActorRef> users, IReadOnlyList<IDisposable> mappings) =>
        Akka.Actor.Props.Create(() => new MappingReleaser(users, mappings));

    protected override void PreStart()
    {
        foreach (var user in _waiting)
            Context.Watch(user);
    }

    protected override void PostStop()
    {
        foreach (var m in _mappings)
            m.Dispose();
    }
}
