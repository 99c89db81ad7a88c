using Akka.TestKit.Xunit2;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Actors.Tests.Support;
using Backend.Actors.Vif;
using Backend.Xen.Xenbus;
using RingEvent = Backend.Actors.Rings.RingProtocol.RingEvent;

namespace Backend.Actors.Tests.Vif;

/// <summary>
/// The late EOI of a vif's event channel, driven by hand: the handler's notifications, the ring actors'
/// part (probes here, which take and finish as the test says) and the unmask it leads to.
/// </summary>
public sealed class RingEventHandlerTests : TestKit
{
    private const uint Port = 5;

    private readonly RecordingEventChannels _channels = new();
    private readonly VifStatus _status = new(new VifId(3, 0));
    private readonly ManualClock _time = new();
    private readonly RingEventLatch _txLatch = new();
    private readonly RingEventLatch _rxLatch = new();

    [Fact]
    public void A_storm_of_events_puts_one_ring_event_in_each_ring_actors_mailbox()
    {
        var tx = CreateTestProbe();
        var rx = CreateTestProbe();
        var handler = new RingEventHandler(_channels, _status, tx.Ref, _txLatch, rx.Ref, _rxLatch, _time);
        for (var i = 0; i < 1000; i++)
            handler.OnEvent(Port);
        Assert.Same(RingEvent.Notification, tx.ExpectMsg<RingEvent>());
        Assert.Same(RingEvent.Notification, rx.ExpectMsg<RingEvent>());
        tx.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        rx.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal(0, _channels.LateEoiCount);
    }

    [Fact]
    public void A_shared_port_is_unmasked_when_both_rings_have_taken_the_notification_and_one_is_done()
    {
        var handler = new RingEventHandler(_channels, _status, CreateTestProbe().Ref, _txLatch, CreateTestProbe().Ref, _rxLatch, _time);
        handler.OnEvent(Port);
        // RX has nothing to do and is done at once; TX has not even taken it yet: not judged, still masked.
        _rxLatch.Take(0);
        Assert.True(_rxLatch.TryFinish());
        Assert.Equal(0, _channels.LateEoiCount);
        // TX takes it (news: the guest pushed) and drains for long: the port need not wait for that drain.
        _txLatch.Take(1);
        Assert.Equal([Port], _channels.LateEois);
        Assert.True(_txLatch.TryFinish());
        Assert.Equal(1, _channels.LateEoiCount);
        Assert.Equal(1, Interlocked.Read(ref _status.Events));
        Assert.Equal(0, Interlocked.Read(ref _status.SpuriousEvents));
    }

    [Fact]
    public void A_ring_busy_with_an_earlier_notification_is_not_told_again_has_no_say_and_drains_once_more_before_it_ends_the_mask()
    {
        var tx = CreateTestProbe();
        var rx = CreateTestProbe();
        var handler = new RingEventHandler(_channels, _status, tx.Ref, _txLatch, rx.Ref, _rxLatch, _time);
        handler.OnEvent(Port);
        tx.ExpectMsg<RingEvent>();
        rx.ExpectMsg<RingEvent>();
        _txLatch.Take(1);
        _rxLatch.Take(0);
        Assert.True(_rxLatch.TryFinish());
        Assert.Equal(1, _channels.LateEoiCount);

        // TX is still draining: only RX hears of the next notification, and judges it alone (spurious: its
        // req_prod did not move). TX's drain may have had its last look at the ring already, so its first
        // finish says to drain again; the port waits for the end of that drain.
        handler.OnEvent(Port);
        rx.ExpectMsg<RingEvent>();
        tx.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        _rxLatch.Take(0);
        Assert.Equal(1, _channels.LateEoiCount);
        Assert.False(_txLatch.TryFinish());
        Assert.Equal(1, _channels.LateEoiCount);
        Assert.True(_txLatch.TryFinish());
        Assert.Equal(2, _channels.LateEoiCount);
        Assert.Equal(1, Interlocked.Read(ref _status.SpuriousEvents));
    }

    [Fact]
    public void A_notification_between_a_drains_last_look_and_its_finish_is_drained_before_the_port_is_unmasked()
    {
        // A split TX port, as in docs/performance/stalls: the guest pushes after the pass found the ring empty
        // and re-armed req_event, and notifies before the ring actor's turn ends.
        var tx = CreateTestProbe();
        var handler = new RingEventHandler(_channels, _status, tx.Ref, _txLatch, time: _time);
        handler.OnEvent(Port);
        tx.ExpectMsg<RingEvent>();
        _txLatch.Take(1);
        handler.OnEvent(Port);

        // Not told (one notification outstanding), and not lost: the turn's finish says to drain again,
        // and the port stays masked until that drain is over too.
        tx.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.False(_txLatch.TryFinish());
        Assert.Equal(0, _channels.LateEoiCount);
        Assert.True(_txLatch.TryFinish());
        Assert.Equal([Port], _channels.LateEois);

        // Idle again: the next notification is told as usual, and one finish ends it.
        handler.OnEvent(Port);
        tx.ExpectMsg<RingEvent>();
        _txLatch.Take(2);
        Assert.True(_txLatch.TryFinish());
        Assert.Equal(2, _channels.LateEoiCount);
        Assert.Equal(0, Interlocked.Read(ref _status.SpuriousEvents));
    }

    [Fact]
    public void A_drain_that_did_not_take_the_notification_does_not_unmask_the_port()
    {
        var handler = new RingEventHandler(_channels, _status, CreateTestProbe().Ref, _txLatch, time: _time);
        handler.OnEvent(Port);
        // A kick's drain ends while the notification still waits in the mailbox.
        Assert.True(_txLatch.TryFinish());
        Assert.Equal(0, _channels.LateEoiCount);
        _txLatch.Take(1);
        Assert.True(_txLatch.TryFinish());
        Assert.Equal(1, _channels.LateEoiCount);
    }

    [Fact]
    public void Spurious_notifications_in_a_row_are_counted_and_their_unmask_delayed_doubling_up_to_a_second()
    {
        var handler = new RingEventHandler(_channels, _status, CreateTestProbe().Ref, _txLatch, time: _time);
        // The first notification after which req_prod had not moved: counted, unmasked at once.
        Notify(handler, reqProd: 0);
        Assert.Equal(1, _channels.LateEoiCount);
        Assert.Empty(_time.Timers);

        var expected = new[] { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000 };
        for (var i = 0; i < expected.Length; i++)
        {
            Notify(handler, reqProd: 0);
            var timer = Assert.Single(_time.Timers);
            Assert.Equal(TimeSpan.FromMilliseconds(expected[i]), timer.DueTime);
            Assert.Equal(i + 1, _channels.LateEoiCount);
            timer.Fire();
            Assert.Equal(i + 2, _channels.LateEoiCount);
        }
        Assert.Equal(1 + expected.Length, Interlocked.Read(ref _status.SpuriousEvents));

        // News ends the run: unmasked at once, and the next spurious one is the first of a new run.
        Notify(handler, reqProd: 7);
        Notify(handler, reqProd: 7);
        Assert.False(_time.Timers[0].Armed);
        Assert.Equal(expected.Length + 3, _channels.LateEoiCount);
        Assert.Equal(expected.Length + 2, Interlocked.Read(ref _status.SpuriousEvents));
        Assert.Equal(expected.Length + 3, Interlocked.Read(ref _status.Events));
    }

    [Fact]
    public void On_a_shared_port_news_on_either_ring_makes_the_notification_not_spurious()
    {
        var handler = new RingEventHandler(_channels, _status, CreateTestProbe().Ref, _txLatch, CreateTestProbe().Ref, _rxLatch, _time);
        for (var i = 0; i < 5; i++)
        {
            handler.OnEvent(Port);
            _txLatch.Take(0);
            _rxLatch.Take((uint)i + 1);
            Assert.True(_txLatch.TryFinish());
            Assert.True(_rxLatch.TryFinish());
        }
        Assert.Equal(5, _channels.LateEoiCount);
        Assert.Equal(0, Interlocked.Read(ref _status.SpuriousEvents));
        Assert.Empty(_time.Timers);
    }

    private void Notify(RingEventHandler handler, uint reqProd)
    {
        handler.OnEvent(Port);
        _txLatch.Take(reqProd);
        Assert.True(_txLatch.TryFinish());
    }
}
