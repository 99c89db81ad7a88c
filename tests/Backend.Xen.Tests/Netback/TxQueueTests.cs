using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Grants;
using Backend.Xen.Netback;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// The TX queue's drain glue on a ring in ordinary memory: this test is the frontend (it pushes requests
/// and grants pages) and the ring actor (it takes passes, runs the copies, completes them).
/// </summary>
public sealed class TxQueueTests : IDisposable
{
    private const ushort Domid = 7;

    private readonly TxRingBuilder _ring = new();
    private readonly PacketBufferPool _pool = new();
    private readonly GuestPages _guest = new(Domid);
    private readonly List<PacketBuffer> _frames = [];

    public void Dispose()
    {
        foreach (var frame in _frames)
            frame.Return();
        _pool.Dispose();
        _ring.Dispose();
    }

    private TxQueue NewQueue(TxCreditScheduler? credit = null, MulticastFilter? multicast = null) => new(_ring.Page.Address, Domid, _pool, credit, multicast);

    private ref SharedRingHeader Header => ref _ring.Page.Header;

    /// <summary>A granted page whose byte n is (seed + n).</summary>
    private byte[] Grant(uint gref, byte seed)
    {
        var page = _guest.Grant(gref);
        for (var i = 0; i < page.Length; i++)
            page[i] = (byte)(seed + i);
        return page;
    }

    private sealed record PassResult(TxPass Pass, int Answered, int Errors, int Frames, bool Notify);

    /// <summary>One pass as a ring actor takes it: collect, run the copies if any, complete; the frames are kept.</summary>
    private PassResult Pass(TxQueue queue)
    {
        var pass = queue.Collect();
        if (pass.Copy)
            Assert.True(queue.Copies!.CopyWith(_guest, out _), "the copies were given up");
        var done = queue.Complete();
        foreach (var frame in done.Frames)
            _frames.Add(frame);
        return new PassResult(pass, done.Answered, done.Errors, done.Frames.Length, done.Notify);
    }

    private NetifTxResponse Response(uint index) => _ring.Front.CopyResponse(index);

    private void AssertAnswered(uint index, ushort id, short status)
    {
        var response = Response(index);
        Assert.Equal(id, response.Id);
        Assert.Equal(status, response.Status);
    }

    [Fact]
    public void A_packet_whose_last_slot_is_not_pushed_is_held_on_the_ring_across_a_pass_and_taken_whole_once_it_is()
    {
        var first = Grant(100, 1);
        var second = Grant(101, 50);
        _ring.Request(1000, NetTxFlags.MoreData, id: 10, gref: 100).Push();
        var queue = NewQueue();

        var held = Pass(queue);
        Assert.Equal(new TxPass(Copy: false, TxNext.Idle, Fatal: false, default), held.Pass);
        Assert.Equal(0, held.Answered);
        Assert.Equal(0u, queue.RequestConsumer);
        Assert.Equal(2u, Volatile.Read(ref Header.ReqEvent)); // req_prod + 1: the next push notifies

        _ring.Request(300, id: 11, gref: 101).Push();
        var taken = Pass(queue);
        Assert.True(taken.Pass.Copy);
        Assert.Equal(1, taken.Answered);
        Assert.Equal(0, taken.Errors);
        var frame = Assert.Single(_frames);
        Assert.Equal(1000, frame.Length);
        Assert.Equal(first.AsSpan(0, 700).ToArray(), frame.Frame[..700].ToArray());
        Assert.Equal(second.AsSpan(0, 300).ToArray(), frame.Frame[700..].ToArray());
        AssertAnswered(0, 10, NetifResponseStatus.Okay);
        AssertAnswered(1, 11, NetifResponseStatus.Okay);
        Assert.Equal(1, _pool.Outstanding);
    }

    [Fact]
    public void Errors_are_answered_exactly_once_in_ring_order_with_or_without_copies_in_the_pass()
    {
        Grant(100, 1);
        _ring.Request(10, id: 0).Push();            // a runt: under an Ethernet header
        _ring.Request(60, id: 1, gref: 100).Push();
        var queue = NewQueue();

        var mixed = Pass(queue);
        Assert.True(mixed.Pass.Copy);
        Assert.Equal((2, 1, 1), (mixed.Answered, mixed.Errors, mixed.Frames));
        Assert.Equal(2u, Volatile.Read(ref Header.RspProd));
        Assert.Equal(NetifResponseStatus.Error, Response(0).Status);
        Assert.Equal(NetifResponseStatus.Okay, Response(1).Status);

        _ring.Request(10, id: 2).Push();
        var errorOnly = Pass(queue);
        Assert.False(errorOnly.Pass.Copy);
        Assert.Equal((1, 1), (errorOnly.Answered, errorOnly.Errors));
        Assert.Equal(TxNext.Idle, errorOnly.Pass.Next);

        var again = Pass(queue);
        Assert.Equal(0, again.Answered);
        Assert.Equal(3u, Volatile.Read(ref Header.RspProd));
        Assert.Equal(NetifResponseStatus.Error, Response(2).Status);
        Assert.Equal(3u, queue.RequestConsumer);
    }

    [Fact]
    public void Multicast_extras_amend_the_vif_s_filter_and_are_answered_as_Linux_answers_them_in_ring_order()
    {
        var filter = new MulticastFilter();
        filter.Connect(control: true, resumed: false);
        for (var i = 0; i < MulticastFilter.MaxAddresses - 1; i++)
            filter.Add(new MacAddress(0x01_00_5E_01_00_00UL + (uint)i));
        byte[] group = [0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB];
        byte[] full = [0x01, 0x00, 0x5E, 0x00, 0x00, 0xFC];
        Grant(100, 1);
        _ring.Request(0, NetTxFlags.ExtraInfo, id: 0).Multicast(NetifExtraType.MulticastAdd, group).Push(); // the 64th: OKAY
        _ring.Request(60, id: 1, gref: 100).Push();
        _ring.Request(0, NetTxFlags.ExtraInfo, id: 2).Multicast(NetifExtraType.MulticastAdd, full).Push();  // the 65th: ERROR
        _ring.Request(0, NetTxFlags.ExtraInfo, id: 3).Multicast(NetifExtraType.MulticastDel, full).Push();  // not listed: OKAY
        var queue = NewQueue(multicast: filter);

        var pass = Pass(queue);
        Assert.Equal((4, 1, 1), (pass.Answered, pass.Errors, pass.Frames));
        AssertAnswered(0, 0, NetifResponseStatus.Okay);
        Assert.Equal(NetifResponseStatus.Null, Response(1).Status); // the extra
        AssertAnswered(2, 1, NetifResponseStatus.Okay);
        AssertAnswered(3, 2, NetifResponseStatus.Error);
        Assert.Equal(NetifResponseStatus.Null, Response(4).Status);
        AssertAnswered(5, 3, NetifResponseStatus.Okay);
        Assert.Equal(MulticastFilter.MaxAddresses, filter.Count);
        Assert.True(filter.Accepts(MacAddress.Read(group)));
        // The refused add was taken back by the delete that matched nothing: filtering again.
        Assert.False(filter.AcceptsAll);
        Assert.False(filter.Accepts(MacAddress.Read(full)));
    }

    [Fact]
    public void A_failed_copy_in_one_packet_answers_all_its_slots_with_errors_and_drops_only_its_frame()
    {
        Grant(200, 1);
        Grant(201, 2);
        Grant(202, 3);
        _ring.Request(100, id: 0, gref: 200)
            .Request(300, NetTxFlags.MoreData, id: 1, gref: 201).Request(100, id: 2, gref: 211) // 211 is not granted
            .Request(100, id: 3, gref: 202)
            .Push();
        var queue = NewQueue();

        var result = Pass(queue);
        Assert.True(result.Pass.Copy);
        Assert.Equal((3, 1, 2), (result.Answered, result.Errors, result.Frames));
        Assert.Equal(
            [NetifResponseStatus.Okay, NetifResponseStatus.Error, NetifResponseStatus.Error, NetifResponseStatus.Okay],
            new[] { Response(0).Status, Response(1).Status, Response(2).Status, Response(3).Status });
        Assert.Equal(new[] { 100, 100 }, _frames.Select(f => f.Length));
        Assert.Equal(2, _pool.Outstanding); // the failed packet's buffer went back
    }

    [Fact]
    public void Credit_exhausted_holds_the_next_packet_on_the_ring_until_the_elapsed_time_has_refilled_it()
    {
        var clock = new ManualClock();
        Grant(100, 1);
        for (ushort id = 0; id < 3; id++)
            _ring.Request(600, id: id, gref: 100);
        _ring.Push();
        var queue = NewQueue(new TxCreditScheduler(1000, 10_000, clock));

        Assert.Equal(1, Pass(queue).Answered);
        var waiting = Pass(queue);
        Assert.Equal(new TxPass(Copy: false, TxNext.Credit, Fatal: false, TimeSpan.FromMilliseconds(10)), waiting.Pass);
        Assert.Equal(0, waiting.Answered);
        Assert.Equal(1u, queue.RequestConsumer);

        clock.Advance(TimeSpan.FromMilliseconds(4));
        Assert.Equal(TimeSpan.FromMilliseconds(6), Pass(queue).Pass.CreditWait);

        clock.Advance(TimeSpan.FromMilliseconds(6));
        var refilled = Pass(queue);
        Assert.Equal((2, 0), (refilled.Answered, refilled.Errors));
        Assert.Equal(3, _frames.Count);
        Assert.Equal(3u, Volatile.Read(ref Header.RspProd));
    }

    [Fact]
    public void Forwarded_frames_are_counted_as_Linux_netback_counts_rx_gso_checksum_fixup_and_tx_frag_overflow()
    {
        Grant(8, 1);
        for (uint gref = 100; gref < 119; gref++)
            Grant(gref, (byte)gref);
        // A GSO frame without csum_blank (Linux's checksum_setup fixes it up), one with it, and a frame of
        // 19 data slots: 18 after the first, one more than a Linux skb's MAX_SKB_FRAGS.
        _ring.Request(1000, NetTxFlags.ExtraInfo, id: 1).Gso(500)
            .Request(1000, NetTxFlags.ExtraInfo | NetTxFlags.CsumBlank, id: 2).Gso(500)
            .Packet([.. Enumerable.Repeat((ushort)60, 19)])
            .Push();

        var queue = NewQueue();
        Assert.True(queue.Collect().Copy);
        Assert.True(queue.Copies!.CopyWith(_guest, out _), "the copies were given up");
        var done = queue.Complete();
        foreach (var frame in done.Frames)
            _frames.Add(frame);

        Assert.Equal(3, done.Frames.Length);
        Assert.Equal(1, done.GsoChecksumFixups);
        Assert.Equal(1, done.FragOverflows);
    }

    [Fact]
    public void A_fatal_packet_stops_the_queue_after_answering_what_came_before_it()
    {
        Grant(100, 1);
        _ring.Request(60, id: 0, gref: 100)
            .Request(100, id: 1, gref: 100, offset: 4050) // crosses its page: fatal
            .Request(60, id: 2, gref: 100)
            .Push();
        var queue = NewQueue();

        var result = Pass(queue);
        Assert.True(result.Pass.Copy);
        Assert.True(result.Pass.Fatal);
        Assert.Equal(1, result.Answered);
        Assert.True(queue.Stopped);
        Assert.Contains("SlotCrossesPage at request 1", queue.Fault, StringComparison.Ordinal);

        Assert.Equal(0, Pass(queue).Answered);
        Assert.Equal(1u, queue.RequestConsumer);
        Assert.Equal(1u, Volatile.Read(ref Header.RspProd));
    }

    [Fact]
    public void A_pass_takes_at_most_a_ring_s_worth_and_asks_for_another_when_it_stopped_there()
    {
        for (var i = 0; i < NetifConstants.TxRingSize; i++)
            _ring.Request(10, id: (ushort)i);
        _ring.Push();
        var queue = NewQueue();

        var full = Pass(queue);
        Assert.Equal(NetifConstants.TxRingSize, full.Answered);
        Assert.Equal(TxNext.More, full.Pass.Next);
        var empty = Pass(queue);
        Assert.Equal(0, empty.Answered);
        Assert.Equal(TxNext.Idle, empty.Pass.Next);
    }

    [Fact]
    public void A_queue_released_while_its_copies_run_gets_their_buffers_back_only_when_the_copy_is_over()
    {
        Grant(100, 1);
        _ring.Request(60, id: 0, gref: 100).Request(60, id: 1, gref: 100).Push();
        var queue = NewQueue();
        Assert.True(queue.Collect().Copy);

        var copier = new ReleasingCopier(queue, _guest, _pool);
        Assert.False(queue.Copies!.CopyWith(copier, out _), "copies given up during the copy are not handed back");
        Assert.Equal(2, copier.OutstandingDuringCopy);
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0u, Volatile.Read(ref Header.RspProd)); // read again by the next queue on the ring
    }

    [Fact]
    public void A_queue_released_before_its_copies_run_gets_their_buffers_back_at_once_and_they_never_run()
    {
        Grant(100, 1);
        _ring.Request(60, id: 0, gref: 100).Push();
        var queue = NewQueue();
        Assert.True(queue.Collect().Copy);

        queue.Release();
        Assert.Equal(0, _pool.Outstanding);
        Assert.False(queue.Copies!.CopyWith(_guest, out _));
        Assert.Equal(0, _guest.Copies);
    }

    [Fact]
    public void A_new_queue_on_a_ring_in_use_resumes_at_rsp_prod_and_reads_the_unanswered_requests_again()
    {
        Grant(100, 1);
        _ring.Request(60, id: 0, gref: 100).Push();
        var first = NewQueue();
        Assert.Equal(1, Pass(first).Answered);
        _ring.Request(60, id: 1, gref: 100).Push();
        Assert.True(first.Collect().Copy);
        first.Release();

        var second = NewQueue();
        Assert.Equal(1u, second.RequestConsumer);
        Assert.Equal(1, Pass(second).Answered);
        AssertAnswered(1, 1, NetifResponseStatus.Okay);
    }

    /// <summary>A copier during whose copy the queue's owner stops (as a ring actor stopping on another thread would).</summary>
    private sealed class ReleasingCopier(TxQueue queue, IGrantCopier inner, PacketBufferPool pool) : IGrantCopier
    {
        public long OutstandingDuringCopy { get; private set; }

        public void Copy(Span<GrantCopySegment> segments)
        {
            queue.Release();
            OutstandingDuringCopy = pool.Outstanding;
            inner.Copy(segments);
        }
    }
}
