using Backend.Xen.Abi;
using Backend.Xen.Rings;

namespace Backend.Xen.Tests.Rings;

public sealed class BackRingTests : IDisposable
{
    private readonly NativePage _page = new();
    private readonly FrontRing<NetifTxRequest, NetifTxResponse> _front;
    private readonly BackRing<NetifTxRequest, NetifTxResponse> _back;

    public BackRingTests()
    {
        _front = new FrontRing<NetifTxRequest, NetifTxResponse>(_page.Address);
        _front.Initialise();
        _back = new BackRing<NetifTxRequest, NetifTxResponse>(_page.Address);
    }

    public void Dispose() => _page.Dispose();

    private void Push(int count, ushort firstId = 0)
    {
        for (var i = 0; i < count; i++)
        {
            _front.WriteRequest(_front.RequestProducer, new NetifTxRequest { Id = (ushort)(firstId + i), Gref = (uint)(100 + i) });
            _front.RequestProducer++;
        }
        _front.PushRequestsAndCheckNotify();
    }

    [Fact]
    public void Ring_sizes_are_those_of_ring_h_for_one_page()
    {
        using var page = new NativePage();
        Assert.Equal(NetifConstants.TxRingSize, new BackRing<NetifTxRequest, NetifTxResponse>(page.Address).Size);
        Assert.Equal(NetifConstants.RxRingSize, new BackRing<NetifRxRequest, NetifRxResponse>(page.Address).Size);
        Assert.Equal(NetifConstants.CtrlRingSize, new BackRing<NetifCtrlRequest, NetifCtrlResponse>(page.Address).Size);
        Assert.Equal(NetifConstants.TxRingSize, new FrontRing<NetifTxRequest, NetifTxResponse>(page.Address).Size);
    }

    [Fact]
    public void Shared_ring_init_sets_indices_to_zero_and_events_to_one()
    {
        _page.Header.ReqProd = 77;
        _page.Header.RspEvent = 99;
        _front.Initialise();
        Assert.Equal(0u, _page.Header.ReqProd);
        Assert.Equal(0u, _page.Header.RspProd);
        Assert.Equal(1u, _page.Header.ReqEvent);
        Assert.Equal(1u, _page.Header.RspEvent);
    }

    [Fact]
    public void Requests_pushed_by_the_frontend_are_copied_out_in_order()
    {
        Push(3, firstId: 7);
        var reqProd = _back.ReadRequestProducer();
        Assert.Equal(3u, reqProd);
        Assert.Equal(3u, _back.UnconsumedRequests(reqProd));
        for (uint i = 0; i < 3; i++)
            Assert.Equal((ushort)(7 + i), _back.CopyRequest(_back.RequestConsumer++).Id);
        Assert.Equal(0u, _back.UnconsumedRequests(reqProd));
    }

    [Fact]
    public void Slot_indices_are_masked_to_the_ring()
    {
        _front.WriteRequest(3, new NetifTxRequest { Id = 42 });
        Assert.Equal(42, _back.CopyRequest(3 + 256).Id);
        Assert.Equal(42, _back.CopyRequest(3 + 256u * 1000).Id);
        _back.WriteResponse(5 + 512, new NetifTxResponse { Id = 9, Status = NetifResponseStatus.Okay });
        Assert.Equal(9, _front.CopyResponse(5).Id);
    }

    [Fact]
    public void Unconsumed_requests_are_clamped_to_the_slots_not_yet_answered()
    {
        // A hostile frontend claims a billion requests; the backend still owns the slots it consumed
        // but has not answered, so it may see at most Size minus those.
        _page.Header.ReqProd = 1_000_000_000;
        _back.RequestConsumer = 10;
        _back.ResponseProducer = 4;
        Assert.Equal(256u - 6, _back.UnconsumedRequests(_back.ReadRequestProducer()));
    }

    [Fact]
    public void Unconsumed_requests_with_req_prod_behind_req_cons_are_clamped_too()
    {
        _back.RequestConsumer = 10;
        _back.ResponseProducer = 10;
        // req_prod - req_cons wraps to nearly 2^32: the clamp keeps it to one ring.
        Assert.Equal(256u, _back.UnconsumedRequests(5));
    }

    [Fact]
    public void Request_producer_overflow_is_detected_beyond_one_ring_of_outstanding_requests()
    {
        _back.ResponseProducer = 100;
        Assert.False(_back.RequestProducerOverflow(100), "no request outstanding");
        Assert.False(_back.RequestProducerOverflow(100 + 256), "exactly a full ring is legal");
        Assert.True(_back.RequestProducerOverflow(100 + 257), "one more than the ring holds");
        Assert.True(_back.RequestProducerOverflow(99), "req_prod behind rsp_prod_pvt");
    }

    [Fact]
    public void Request_producer_overflow_is_computed_mod_2_pow_32()
    {
        _back.ResponseProducer = uint.MaxValue - 10;
        Assert.False(_back.RequestProducerOverflow(unchecked(uint.MaxValue - 10 + 256)));
        Assert.True(_back.RequestProducerOverflow(unchecked(uint.MaxValue - 10 + 257)));
    }

    [Fact]
    public void Final_check_on_an_empty_ring_sets_req_event_to_req_cons_plus_one()
    {
        _back.RequestConsumer = 0;
        Assert.False(_back.FinalCheckForRequests());
        Assert.Equal(1u, _page.Header.ReqEvent);

        Push(2);
        _back.RequestConsumer = 2;
        _back.ResponseProducer = 2;
        Assert.False(_back.FinalCheckForRequests());
        Assert.Equal(3u, _page.Header.ReqEvent);
    }

    [Fact]
    public void Final_check_with_work_pending_reports_it_and_leaves_req_event_alone()
    {
        _page.Header.ReqEvent = 12345;
        Push(1);
        Assert.True(_back.FinalCheckForRequests());
        Assert.Equal(12345u, _page.Header.ReqEvent);
    }

    [Fact]
    public void Frontend_push_notifies_once_req_event_is_reached()
    {
        _back.FinalCheckForRequests(); // req_event = 1
        Push(1);
        Assert.Equal(1u, _page.Header.ReqProd);
        // The backend has not re-armed: the next push must not notify.
        _front.WriteRequest(_front.RequestProducer++, default);
        Assert.False(_front.PushRequestsAndCheckNotify());
    }

    [Fact]
    public void Push_responses_notifies_only_when_rsp_event_falls_in_the_pushed_range()
    {
        Push(4);
        var reqProd = _back.ReadRequestProducer();
        while (_back.RequestConsumer != reqProd)
            _back.WriteResponse(_back.ResponseProducer++, new NetifTxResponse { Id = _back.CopyRequest(_back.RequestConsumer++).Id });

        _page.Header.RspEvent = 10; // beyond what is pushed: the frontend is not waiting yet
        Assert.False(_back.PushResponsesAndCheckNotify());
        Assert.Equal(4u, _page.Header.RspProd);

        Push(4);
        reqProd = _back.ReadRequestProducer();
        while (_back.RequestConsumer != reqProd)
            _back.WriteResponse(_back.ResponseProducer++, new NetifTxResponse { Id = _back.CopyRequest(_back.RequestConsumer++).Id });
        _page.Header.RspEvent = 6; // in (4, 8]
        Assert.True(_back.PushResponsesAndCheckNotify());
        Assert.Equal(8u, _page.Header.RspProd);
        Assert.Equal(8u, _front.UnconsumedResponses());
    }

    [Fact]
    public void Push_responses_of_nothing_new_does_not_notify()
    {
        _page.Header.RspEvent = 0;
        Assert.False(_back.PushResponsesAndCheckNotify());
    }

    [Fact]
    public void Indices_wrap_across_2_pow_32()
    {
        const uint start = uint.MaxValue - 2;
        _front.InitialiseAt(start);
        _back.AttachAtResponseProducer();
        Push(6, firstId: 50);
        var reqProd = _back.ReadRequestProducer();
        Assert.Equal(unchecked(start + 6), reqProd);
        Assert.Equal(6u, _back.UnconsumedRequests(reqProd));
        Assert.False(_back.RequestProducerOverflow(reqProd));
        ushort expected = 50;
        while (_back.UnconsumedRequests(reqProd) != 0)
        {
            var request = _back.CopyRequest(_back.RequestConsumer++);
            Assert.Equal(expected++, request.Id);
            _back.WriteResponse(_back.ResponseProducer++, new NetifTxResponse { Id = request.Id, Status = NetifResponseStatus.Okay });
        }
        Assert.True(_back.PushResponsesAndCheckNotify(), "rsp_event start+1 lies in the pushed range");
        Assert.Equal(3u, _page.Header.RspProd);
        Assert.Equal(6u, _front.UnconsumedResponses());
        expected = 50;
        while (_front.UnconsumedResponses() != 0)
            Assert.Equal(expected++, _front.CopyResponse(_front.ResponseConsumer++).Id);
        Assert.False(_front.FinalCheckForResponses());
        Assert.Equal(4u, _page.Header.RspEvent);
    }

    [Fact]
    public void Attach_at_response_producer_resumes_after_the_last_pushed_response()
    {
        Push(5);
        _page.Header.RspProd = 3; // a previous backend answered three, consumed more, then crashed
        var restarted = new BackRing<NetifTxRequest, NetifTxResponse>(_page.Address);
        restarted.AttachAtResponseProducer();
        Assert.Equal(3u, restarted.RequestConsumer);
        Assert.Equal(3u, restarted.ResponseProducer);
        Assert.Equal(2u, restarted.UnconsumedRequests(restarted.ReadRequestProducer()));
    }

    [Fact]
    public void Set_request_event_publishes_the_value()
    {
        _back.SetRequestEvent(0xDEADBEEF);
        Assert.Equal(0xDEADBEEFu, _page.Header.ReqEvent);
    }

    [Fact]
    public void Free_requests_counts_the_slots_the_frontend_may_fill()
    {
        Assert.Equal(256u, _front.FreeRequests);
        Push(10);
        Assert.Equal(246u, _front.FreeRequests);
        _front.ResponseConsumer = 4;
        Assert.Equal(250u, _front.FreeRequests);
    }

    [Fact]
    public void Final_check_for_responses_sets_rsp_event_when_none_are_pending()
    {
        _front.ResponseConsumer = 0;
        Assert.False(_front.FinalCheckForResponses());
        Assert.Equal(1u, _page.Header.RspEvent);
        _page.Header.RspProd = 1;
        Assert.True(_front.FinalCheckForResponses());
    }
}
