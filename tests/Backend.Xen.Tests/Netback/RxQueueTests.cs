using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// The RX queue's glue on a ring in ordinary memory: this test is the bridge (it hands frames over), the
/// frontend (it posts and grants buffers) and the ring actor (it takes passes, runs the copies).
/// </summary>
public sealed class RxQueueTests : IDisposable
{
    private const ushort Domid = RxTestRing.FrontendDomid;

    private readonly RxTestRing _ring = new();
    private readonly PacketBufferPool _pool = new();
    private readonly GuestPages _guest = new(Domid);
    private readonly ManualClock _clock = new();
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(10);

    public void Dispose()
    {
        _pool.Dispose();
        _ring.Dispose();
    }

    private static RxQueueSettings Settings(int maxFrames = 512, long maxBytes = 1 << 20, int mtu = 1500, bool sg = true,
        bool gso = true, bool checksumOffload = true, int copyBatchSize = 512, TimeSpan stall = default, TimeSpan drain = default,
        TimeProvider? time = null) =>
        new(Domid, mtu,
            new FrontendConfig(TxRingRef: 0, RxRingRef: 0, TxEventChannel: 1, RxEventChannel: 1, SplitEventChannels: false, RxNotify: true,
                ScatterGather: sg, GsoTcpV4: gso, GsoTcpV6: gso, Ipv4ChecksumOffload: checksumOffload, Ipv6ChecksumOffload: checksumOffload),
            maxFrames, maxBytes, copyBatchSize, StallTimeout: stall, DrainTimeout: drain, Time: time);

    /// <summary>A queue with Linux's timeouts (60 s stall, 10 s drain) on the test's clock.</summary>
    private RxQueue NewTimedQueue(TimeSpan? stall = null, TimeSpan? drain = null) =>
        NewQueue(Settings(stall: stall ?? Stall, drain: drain ?? Drain, time: _clock));

    private RxQueue NewQueue(RxQueueSettings? settings = null) => new(_ring.Address, settings ?? Settings(), _pool);

    /// <summary>A frame of <paramref name="bytes"/> in a pooled buffer.</summary>
    private PacketBuffer Frame(ReadOnlySpan<byte> bytes)
    {
        var buffer = _pool.Rent(bytes.Length);
        bytes.CopyTo(buffer.Span);
        buffer.Length = bytes.Length;
        return buffer;
    }

    private PacketBuffer Frame(int length, byte seed = 1)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
            bytes[i] = (byte)(seed + i);
        return Frame(bytes);
    }

    /// <summary>Posts one granted buffer per gref (id = gref - 900).</summary>
    private void Post(params uint[] grefs)
    {
        foreach (var gref in grefs)
            _guest.Grant(gref);
        PostUngranted(grefs);
    }

    private void PostUngranted(params uint[] grefs) =>
        _ring.Post([.. grefs.Select(gref => ((ushort)(gref - 900), gref))]);

    /// <summary>One pass as a ring actor takes it: collect, run the copies if any, complete.</summary>
    private (RxPass Pass, RxCompletion Done) Pass(RxQueue queue)
    {
        var pass = queue.Collect();
        if (pass == RxPass.Copy)
            Assert.True(queue.Copies!.CopyWith(_guest, out _), "the copies were given up");
        return (pass, queue.Complete());
    }

    [Fact]
    public void A_frame_with_too_few_buffers_posted_stays_queued_with_req_event_set_and_goes_once_enough_are()
    {
        var frame = Frame(5000);
        var bytes = frame.Frame.ToArray();
        var queue = NewQueue();
        queue.Accept(frame);
        Post(1000);

        var (pass, done) = Pass(queue);
        Assert.Equal(RxPass.Idle, pass);
        Assert.Equal(0, done.Packets);
        Assert.Equal(1, queue.Queued);
        Assert.Equal(0u, queue.RequestConsumer);
        Assert.Equal(2u, Volatile.Read(ref _ring.Header.ReqEvent)); // req_prod + 1: the next post notifies

        Post(1001);
        (pass, done) = Pass(queue);
        Assert.Equal(RxPass.Copy, pass);
        Assert.Equal((1, 5000L), (done.Packets, done.Bytes));
        Assert.Equal((ushort)NetRxFlags.MoreData, _ring.Response(0).Flags);
        Assert.Equal(NetifConstants.PageSize, _ring.Response(0).Status);
        Assert.Equal(5000 - NetifConstants.PageSize, _ring.Response(1).Status);
        Assert.Equal(bytes[..NetifConstants.PageSize], _guest.Page(1000));
        Assert.Equal(bytes[NetifConstants.PageSize..], _guest.Page(1001)[..(5000 - NetifConstants.PageSize)]);
        Assert.Equal(0, queue.Queued);
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public void The_queue_takes_frames_while_its_bytes_are_under_the_bound_and_drops_and_counts_the_rest()
    {
        var queue = NewQueue(Settings(maxBytes: 10_000));
        for (var i = 0; i < 10; i++)
            queue.Accept(Frame(1500));

        Assert.Equal(7, queue.Queued);               // the 7th is taken at 9000 bytes, the 8th not at 10500
        Assert.Equal(10_500, queue.QueuedBytes);
        Assert.Equal(3, queue.TakeDropped());
        Assert.Equal(0, queue.TakeDropped());
        Assert.Equal(7, _pool.Outstanding);
        queue.Release();
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public void The_queue_takes_at_most_its_count_of_frames()
    {
        var queue = NewQueue(Settings(maxFrames: 4));
        for (var i = 0; i < 6; i++)
            queue.Accept(Frame(60));

        Assert.Equal(4, queue.Queued);
        Assert.Equal(2, queue.TakeDropped());
    }

    [Fact]
    public void A_failed_copy_answers_only_its_own_frame_with_errors()
    {
        var queue = NewQueue();
        queue.Accept(Frame(100));
        queue.Accept(Frame(200));
        queue.Accept(Frame(300));
        Post(1000);
        PostUngranted(1001);
        Post(1002);

        var (pass, done) = Pass(queue);
        Assert.Equal(RxPass.Copy, pass);
        Assert.Equal(3, done.Packets);
        Assert.Equal(new short[] { 100, NetifResponseStatus.Error, 300 },
            new[] { _ring.Response(0).Status, _ring.Response(1).Status, _ring.Response(2).Status });
        Assert.Equal(3u, queue.ResponseProducer);
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public void A_frame_needing_more_copies_than_a_pass_holds_is_dropped_and_the_next_one_delivered()
    {
        var queue = NewQueue(Settings(copyBatchSize: 2));
        queue.Accept(Frame(9000));
        queue.Accept(Frame(60));
        Post(1000, 1001, 1002, 1003);

        var (pass, done) = Pass(queue);
        Assert.Equal(RxPass.Copy, pass);
        Assert.Equal(1, done.Packets);
        Assert.Equal(60, _ring.Response(0).Status);
        Assert.Equal(1, queue.TakeDropped());
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public void A_gso_frame_for_a_frontend_without_gso_is_cut_into_segments_of_its_mtu()
    {
        var payload = Packets.Payload(4000, 4);
        var frame = Frame(Packets.Ethernet(0x0800, Packets.Ipv4(6, Packets.Tcp(payload))));
        frame.GsoType = NetifGsoType.TcpV4;
        frame.GsoSize = 1448;
        frame.ChecksumBlank = true;
        var queue = NewQueue(Settings(gso: false));
        queue.Accept(frame);

        Assert.Equal(3, queue.Queued);
        Post(1000, 1001, 1002);
        var (pass, done) = Pass(queue);
        Assert.Equal(RxPass.Copy, pass);
        Assert.Equal(3, done.Packets);
        for (uint i = 0; i < 3; i++)
        {
            Assert.True(_ring.Response(i).Status <= 1500 + NetifConstants.EthernetHeaderLength);
            Assert.Equal((ushort)NetRxFlags.DataValidated, _ring.Response(i).Flags); // checksums filled, no GSO extra
        }
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public void A_blank_checksum_is_filled_for_a_frontend_without_checksum_offload_and_passed_on_to_one_with_it()
    {
        foreach (var offload in new[] { false, true })
        {
            using var ring = new RxTestRing();
            var queue = new RxQueue(ring.Address, Settings(checksumOffload: offload), _pool);
            var frame = Frame(Packets.Ethernet(0x0800, Packets.Ipv4(6, Packets.Tcp(Packets.Payload(100)))));
            frame.ChecksumBlank = true;
            queue.Accept(frame);
            _guest.Grant(1000);
            ring.Post((100, 1000));
            Assert.Equal(RxPass.Copy, queue.Collect());
            Assert.True(queue.Copies!.CopyWith(_guest, out _));
            queue.Complete();
            var expected = offload ? NetRxFlags.CsumBlank | NetRxFlags.DataValidated : NetRxFlags.DataValidated;
            Assert.Equal((ushort)expected, ring.Response(0).Flags);
        }
    }

    [Fact]
    public void Without_feature_sg_a_frame_longer_than_a_page_is_dropped()
    {
        var queue = NewQueue(Settings(sg: false));
        queue.Accept(Frame(NetifConstants.PageSize + 1));
        queue.Accept(Frame(NetifConstants.PageSize));

        Assert.Equal(1, queue.Queued);
        Assert.Equal(1, queue.TakeDropped());
        queue.Release();
    }

    [Fact]
    public void An_impossible_req_prod_stops_the_queue_and_drops_what_it_held()
    {
        var queue = NewQueue();
        queue.Accept(Frame(60));
        Volatile.Write(ref _ring.Header.ReqProd, NetifConstants.RxRingSize + 1u);

        Assert.Equal(RxPass.Fatal, queue.Collect());
        Assert.True(queue.Stopped);
        Assert.Contains("impossible RX req_prod 257", queue.Fault, StringComparison.Ordinal);
        Assert.Equal(0, queue.Queued);
        queue.Accept(Frame(60));
        Assert.Equal(2, queue.TakeDropped());
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(RxPass.Idle, queue.Collect());
    }

    [Fact]
    public void A_queue_released_while_its_copies_are_away_returns_the_queued_frames_at_once_and_the_copied_ones_when_the_copy_is_over()
    {
        var queue = NewQueue();
        queue.Accept(Frame(60));
        queue.Accept(Frame(60));
        Post(1000);
        Assert.Equal(RxPass.Copy, queue.Collect());

        queue.Release();
        Assert.Equal(0, _pool.Outstanding); // the copy had not begun: it never will
        Assert.False(queue.Copies!.CopyWith(_guest, out _));
        Assert.Equal(0, _guest.Copies);
        // Given back to the pool, and lost to the guest: counted as dropped (issue 16, no silent drop;
        // before, a ring actor's restart lost its queued frames without a count).
        Assert.Equal(2, queue.TakeDropped());
    }

    [Fact]
    public void A_frame_queued_for_the_drain_timeout_is_dropped_and_counted_as_expired_and_a_later_one_stays()
    {
        var queue = NewTimedQueue();
        queue.Accept(Frame(60));
        queue.Accept(Frame(60));
        Assert.Equal(Drain, queue.UntilWatch());
        _clock.Advance(TimeSpan.FromSeconds(4));
        queue.Accept(Frame(60));

        _clock.Advance(TimeSpan.FromSeconds(6) - TimeSpan.FromTicks(1));
        Assert.Equal(RxCarrierChange.None, queue.Watch());
        Assert.Equal(3, queue.Queued);
        Assert.Equal(TimeSpan.FromTicks(1), queue.UntilWatch());

        _clock.Advance(TimeSpan.FromTicks(1));
        queue.Watch();
        Assert.Equal(1, queue.Queued);
        Assert.Equal(2, queue.TakeExpired());
        Assert.Equal(2, queue.TakeDropped());      // expired frames are dropped frames, as Linux's rx_dropped
        Assert.Equal(TimeSpan.FromSeconds(4), queue.UntilWatch());
        Assert.Equal(1, _pool.Outstanding);
        queue.Release();
    }

    [Fact]
    public void A_frame_that_waits_for_buffers_when_none_was_taken_for_the_stall_timeout_stalls_the_queue()
    {
        var queue = NewTimedQueue();
        Post(1000);
        queue.Accept(Frame(60));
        Assert.Equal(RxPass.Copy, Pass(queue).Pass);  // the frontend takes one frame: the stall clock starts again

        _clock.Advance(TimeSpan.FromSeconds(30));
        queue.Accept(Frame(60));
        Assert.Equal(RxPass.Idle, Pass(queue).Pass); // no buffer posted: it waits
        Assert.Equal(RxCarrierChange.None, queue.Watch());
        Assert.Equal(TimeSpan.FromSeconds(10), queue.UntilWatch()); // its drain comes before the stall
        Assert.False(queue.Stalled);

        // Frames keep coming and expiring, none is taken: a frame that waits 60 s after the last frame
        // taken stalls the queue.
        for (var t = 0; t < 2; t++)
        {
            _clock.Advance(TimeSpan.FromSeconds(10));
            queue.Accept(Frame(60));
            Pass(queue);
            Assert.Equal(RxCarrierChange.None, queue.Watch());
        }
        Assert.Equal(TimeSpan.FromSeconds(10), queue.UntilWatch());
        _clock.Advance(TimeSpan.FromSeconds(10));
        queue.Accept(Frame(60));
        Pass(queue);
        Assert.Equal(RxCarrierChange.Off, queue.Watch());
        Assert.True(queue.Stalled);
        Assert.Equal(RxCarrierChange.None, queue.Watch());   // said once

        // Stalled, the queue takes nothing more (its carrier is off); what it holds still drains.
        queue.Accept(Frame(60));
        Assert.Equal(1, queue.Queued);
        Assert.Equal(3, queue.TakeExpired());
        Assert.Equal(3 + 1, queue.TakeDropped());            // three expired, then the one refused
        queue.Release();
    }

    [Fact]
    public void A_stalled_queue_comes_back_once_its_frontend_posts_and_a_frame_is_taken()
    {
        var queue = NewTimedQueue(drain: TimeSpan.FromHours(1));
        queue.Accept(Frame(60));
        Pass(queue);
        _clock.Advance(Stall);
        Assert.Equal(RxCarrierChange.Off, queue.Watch());

        Post(1000);
        var (pass, done) = Pass(queue);
        Assert.Equal((RxPass.Copy, 1), (pass, done.Packets));
        Assert.Equal(RxCarrierChange.On, queue.Watch());
        Assert.False(queue.Stalled);

        // Carrier on starts the stall clock again (Linux's xenvif_queue_carrier_on).
        queue.Accept(Frame(60));
        Pass(queue);
        _clock.Advance(Stall - TimeSpan.FromTicks(1));
        Assert.Equal(RxCarrierChange.None, queue.Watch());
        queue.Release();
    }

    [Fact]
    public void A_stalled_queue_that_drained_asks_to_be_told_of_the_next_request_and_comes_back_when_one_is_posted()
    {
        var queue = NewTimedQueue();
        queue.Accept(Frame(60));
        Pass(queue);
        _clock.Advance(Stall);
        queue.Accept(Frame(60));
        Pass(queue);
        Assert.Equal(RxCarrierChange.Off, queue.Watch());
        Assert.Equal(1, queue.TakeExpired());                // the first, 60 s past its drain timeout
        Assert.Equal(1, queue.Queued);
        Assert.Equal(Drain, queue.UntilWatch());

        _clock.Advance(Drain);
        Volatile.Write(ref _ring.Header.ReqEvent, 0);
        Assert.Equal(RxCarrierChange.None, queue.Watch());
        Assert.Equal(0, queue.Queued);
        Assert.Equal(1, queue.TakeExpired());
        Assert.Null(queue.UntilWatch());                     // only the frontend can change anything now
        Assert.Equal(1u, Volatile.Read(ref _ring.Header.ReqEvent)); // req_prod + 1: the next post notifies

        Post(1000);
        Assert.Equal(RxCarrierChange.On, queue.Watch());
        queue.Release();
    }

    [Fact]
    public void A_frontend_that_never_posts_stalls_at_the_first_frame_that_waits_after_the_stall_timeout()
    {
        // Linux's rule: the clock runs from the last frame taken (here, none since the queue began), not
        // from the frame that waits.
        var queue = NewTimedQueue();
        _clock.Advance(TimeSpan.FromMinutes(5));
        queue.Accept(Frame(60));
        Pass(queue);
        Assert.Equal(RxCarrierChange.Off, queue.Watch());
        queue.Release();
    }

    [Fact]
    public void With_a_stall_timeout_of_zero_frames_only_expire()
    {
        var queue = NewTimedQueue(stall: TimeSpan.Zero);
        queue.Accept(Frame(60));
        Pass(queue);
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(RxCarrierChange.None, queue.Watch());
        Assert.False(queue.Stalled);
        Assert.Equal(1, queue.TakeExpired());
        Assert.Null(queue.UntilWatch());
    }

    [Fact]
    public void A_frame_waiting_for_receive_credit_never_stalls_the_queue()
    {
        // The rate holds it back, not the frontend, which has a buffer posted.
        using var credit = new RxCredit(new RateLimit(100, 1_000_000), _clock);
        var queue = NewQueue(Settings(stall: Stall, drain: TimeSpan.FromHours(1), time: _clock) with { Credit = credit });
        Post(1000, 1001);
        queue.Accept(Frame(60));
        queue.Accept(Frame(60));
        Assert.Equal(RxPass.Copy, Pass(queue).Pass);
        Assert.Equal(RxPass.Idle, Pass(queue).Pass);
        _clock.Advance(Stall);
        Assert.Equal(RxCarrierChange.None, queue.Watch());
        queue.Release();
    }
}
