using Akka.Actor;
using Backend.Actors.Rings;
using Backend.Xen.EventChannels;

namespace Backend.Actors.Vif;

/// <summary>
/// Turns an event-channel notification into a <see cref="RingEvent"/> for the ring actors of the port
/// (both of them when the frontend uses one channel). Runs on the platform's receive loop: it only tells.
/// </summary>
public sealed class RingEventHandler(IActorRef first, IActorRef? second) : IEventChannelHandler
{
    public void OnEvent(uint localPort)
    {
        first.Tell(RingEvent.Instance);
        second?.Tell(RingEvent.Instance);
    }
}
