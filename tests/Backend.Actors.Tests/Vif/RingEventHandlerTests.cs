using Akka.TestKit.Xunit2;
using Backend.Actors.Rings;
using Backend.Actors.Vif;

namespace Backend.Actors.Tests.Vif;

public sealed class RingEventHandlerTests : TestKit
{
    [Fact]
    public void A_storm_of_events_puts_one_ring_event_in_each_ring_actors_mailbox()
    {
        var tx = CreateTestProbe();
        var rx = CreateTestProbe();
        var handler = new RingEventHandler(tx.Ref, rx.Ref);
        for (var i = 0; i < 1000; i++)
            handler.OnEvent(5);
        tx.ExpectMsg<RingEvent>();
        rx.ExpectMsg<RingEvent>();
        tx.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        rx.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }
}
