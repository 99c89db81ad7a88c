using Backend.Xen.Buffers;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// A vif's <c>rate</c> on receive (beyond Linux, which limits transmit only): the RX queue delivers what the
/// credit covers, keeps the rest queued, and asks for a wake-up at the next period; credit comes from the
/// time that passed (a manual clock here, whose timers fire when the test says).
/// </summary>
public sealed class RxCreditTests : IDisposable
{
    private const ushort Domid = RxTestRing.FrontendDomid;
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(10);

    private readonly RxTestRing _ring = new();
    private readonly PacketBufferPool _pool = new();
    private readonly GuestPages _guest = new(Domid);
    private readonly ManualClock _clock = new();
    private uint _nextGref = 1000;

    public void Dispose()
    {
        _pool.Dispose();
        _ring.Dispose();
    }

    private RxCredit Credit(ulong bytesPerPeriod) => new(new RateLimit(bytesPerPeriod, (ulong)Period.TotalMicroseconds), _clock);

    private RxQueue NewQueue(RxCredit credit) => new(_ring.Address, new RxQueueSettings(Domid, 1500,
        new FrontendConfig(TxRingRef: 0, RxRingRef: 0, TxEventChannel: 1, RxEventChannel: 1, SplitEventChannels: false, RxNotify: true,
            ScatterGather: true, GsoTcpV4: true, GsoTcpV6: true, Ipv4ChecksumOffload: true, Ipv6ChecksumOffload: true),
        MaxFrames: 512, MaxBytes: 1 << 20, CopyBatchSize: 512, Credit: credit), _pool);

    private void Accept(RxQueue queue, int frames, int length)
    {
        for (var i = 0; i < frames; i++)
        {
            var buffer = _pool.Rent(length);
            buffer.Length = length;
            buffer.Span.Fill((byte)i);
            queue.Accept(buffer);
        }
    }

    /// <summary>Posts <paramref name="count"/> granted one-page buffers.</summary>
    private void Post(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var gref = _nextGref++;
            _guest.Grant(gref);
            _ring.Post(((ushort)(gref - 1000), gref));
        }
    }

    private (RxPass Pass, RxCompletion Done) Pass(RxQueue queue)
    {
        var pass = queue.Collect();
        if (pass == RxPass.Copy)
            Assert.True(queue.Copies!.CopyWith(_guest, out _), "the copies were given up");
        return (pass, queue.Complete());
    }

    [Fact]
    public void Frames_past_the_credit_stay_queued_and_the_wake_up_is_armed_for_the_next_period()
    {
        using var credit = Credit(3000);
        var woken = 0;
        credit.OnDue = () => woken++;
        var queue = NewQueue(credit);
        Accept(queue, 5, 1500);
        Post(5);

        var (pass, done) = Pass(queue);
        Assert.Equal(RxPass.Copy, pass);
        Assert.Equal((2, 3000L), (done.Packets, done.Bytes));
        Assert.Equal(3, queue.Queued);
        Assert.Equal(0, credit.Remaining);

        // The owner takes another pass after the copies: the credit is short, the queue waits for the timer.
        (pass, done) = Pass(queue);
        Assert.Equal(RxPass.Idle, pass);
        Assert.Equal(0, done.Packets);
        var timer = Assert.Single(_clock.Timers);
        Assert.Equal(Period, timer.DueTime);

        _clock.Advance(Period);
        timer.Fire();
        Assert.Equal(1, woken);
        (pass, done) = Pass(queue);
        Assert.Equal((2, 3000L), (done.Packets, done.Bytes));
        Assert.Equal(1, queue.Queued);
        Assert.Equal(0, queue.TakeDropped());
    }

    [Fact]
    public void The_wake_up_is_armed_once_however_often_the_credit_is_found_short()
    {
        using var credit = Credit(1000);
        var queue = NewQueue(credit);
        Accept(queue, 1, 1500);
        Post(1);

        for (var i = 0; i < 5; i++)
            Assert.Equal(RxPass.Idle, Pass(queue).Pass);
        var timer = Assert.Single(_clock.Timers);
        Assert.True(timer.Armed);
        Assert.Equal(Period, timer.DueTime);

        // Half a period later the wait is shorter, but the armed wake-up stands until it fires.
        _clock.Advance(Period / 2);
        Assert.Equal(RxPass.Idle, Pass(queue).Pass);
        Assert.Equal(Period, timer.DueTime);
        _clock.Advance(Period / 2);
        timer.Fire();
        // The first period's 1000 bytes and the second's cover the 1500-byte frame.
        Assert.Equal(1, Pass(queue).Done.Packets);
        Assert.Equal(500, credit.Remaining);
    }

    [Fact]
    public void Credit_is_charged_only_for_frames_that_go_to_the_guest()
    {
        using var credit = Credit(10_000);
        var queue = NewQueue(credit);
        Accept(queue, 1, 5000);
        Post(1); // a 5000-byte frame needs two buffers

        Assert.Equal(RxPass.Idle, Pass(queue).Pass);
        Assert.Equal(10_000, credit.Remaining);
        Assert.DoesNotContain(_clock.Timers, t => t.Armed);

        Post(1);
        Assert.Equal(1, Pass(queue).Done.Packets);
        Assert.Equal(5000, credit.Remaining);
    }

    [Fact]
    public void Credit_earned_while_idle_is_bounded_by_the_burst()
    {
        using var credit = Credit(1000);
        var queue = NewQueue(credit);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Accept(queue, 100, 1500);
        Post(100);

        var delivered = 0;
        while (true)
        {
            var (pass, done) = Pass(queue);
            delivered += done.Packets;
            if (pass != RxPass.Copy)
                break;
        }
        // Linux's max_burst (128 KiB) at most: 87 frames of 1500 bytes, not the minute's 6 MB.
        Assert.Equal((int)(TxCreditScheduler.MinBurst / 1500), delivered);
    }

    [Fact]
    public void A_disposed_credit_arms_no_wake_up()
    {
        var credit = Credit(1000);
        credit.Dispose();
        credit.WakeWhenDue();
        Assert.False(Assert.Single(_clock.Timers).Armed);
    }
}
