using Akka.Event;
using Akka.TestKit.Xunit2;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Tests.Vif;

/// <summary>A vif's log lines: those its guest can repeat at will stay within the vif's budget; the daemon's own do not count against it.</summary>
public sealed class VifLogTests : TestKit
{
    /// <summary>A clock that does not move: the whole test is one budget interval.</summary>
    private sealed class FrozenClock : TimeProvider
    {
        public override long GetTimestamp() => 0;
    }

    private readonly VifStatus _status = new(new VifId(9, 0), new FrozenClock());

    private VifLog NewLog() => new(Logging.GetLogger(Sys, "vif-log-test"), _status);

    [Fact]
    public void A_guest_that_reconnects_at_will_gets_a_burst_of_lines_and_the_rest_are_counted_not_written()
    {
        var log = NewLog();
        EventFilter.Info(contains: "vif9.0: disconnecting").Expect(GuestLogLimit.Burst, () =>
        {
            for (var i = 0; i < GuestLogLimit.Burst + 5; i++)
                log.Disconnecting();
        });
        Assert.Equal(5, _status.GuestLog.SuppressedTotal);
        Assert.False(log.Guest(LogLevel.ErrorLevel, "{Vif}: one more", _status.Id));
    }

    [Fact]
    public void The_daemons_own_lines_about_a_vif_are_written_whatever_its_guest_has_spent()
    {
        var log = NewLog();
        for (var i = 0; i < GuestLogLimit.Burst; i++)
            log.Disabled("req_prod moved too far");
        EventFilter.Info(contains: "forgotten (offline and closed)").ExpectOne(log.Forgotten);
        EventFilter.Error(contains: "data path failed, restarting it: boom").ExpectOne(() => log.DataPathFailed(new InvalidOperationException("boom")));
    }
}
