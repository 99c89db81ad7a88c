using Backend.Xen.Abi;
using Backend.Xen.Netback;

namespace Backend.Xen.Tests.Netback;

/// <summary>FreeBSD's xnb_txpkt2rsp_* cases, ported to our outcomes.</summary>
public sealed class TxResponderTests : IDisposable
{
    private readonly TxRingBuilder _ring = new();

    public void Dispose() => _ring.Dispose();

    private void ConsumeRespondPush(in TxPacket packet, short status)
    {
        _ring.ConsumeAndRespond(packet, status);
        _ring.Back.PushResponsesAndCheckNotify();
    }

    [Fact]
    public void Txpkt2rsp_emptypkt()
    {
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Empty, packet.Outcome);
        Assert.Throws<ArgumentException>(() => TxResponder.Respond(_ring.Back, packet, _ring.Slots, NetifResponseStatus.Okay));
        Assert.Equal(0u, _ring.Back.ResponseProducer);
        Assert.Equal(0u, _ring.Page.Header.RspProd);
    }

    [Fact]
    public void Txpkt2rsp_1req()
    {
        _ring.Request(1000, id: 7).Push();
        var packet = _ring.Parse();
        ConsumeRespondPush(packet, TxResponder.StatusOf(packet));
        Assert.Equal(_ring.Page.Header.ReqProd, _ring.Back.ResponseProducer);
        Assert.Equal(7, _ring.Response(0).Id);
        Assert.Equal(NetifResponseStatus.Okay, _ring.Response(0).Status);
    }

    [Fact]
    public void Txpkt2rsp_extra()
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo, id: 69).Gso(1400).Push();
        var packet = _ring.Parse();
        ConsumeRespondPush(packet, TxResponder.StatusOf(packet));
        Assert.Equal(_ring.Page.Header.ReqProd, _ring.Back.ResponseProducer);
        Assert.Equal(69, _ring.Response(0).Id);
        Assert.Equal(NetifResponseStatus.Okay, _ring.Response(0).Status);
        Assert.Equal(NetifResponseStatus.Null, _ring.Response(1).Status);
    }

    [Fact]
    public void Txpkt2rsp_long()
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo | NetTxFlags.MoreData, id: 254).Gso(1400)
            .Request(300, NetTxFlags.MoreData, id: 1034).Request(400, id: 34).Push();
        var packet = _ring.Parse();
        ConsumeRespondPush(packet, TxResponder.StatusOf(packet));
        Assert.Equal(_ring.Page.Header.ReqProd, _ring.Back.ResponseProducer);
        Assert.Equal((254, NetifResponseStatus.Okay), (_ring.Response(0).Id, _ring.Response(0).Status));
        Assert.Equal(NetifResponseStatus.Null, _ring.Response(1).Status);
        Assert.Equal((1034, NetifResponseStatus.Okay), (_ring.Response(2).Id, _ring.Response(2).Status));
        Assert.Equal((34, NetifResponseStatus.Okay), (_ring.Response(3).Id, _ring.Response(3).Status));
    }

    /// <summary>FreeBSD answers an unknown extra type with errors; Linux and SIMXEN disable the vif and answer nothing.</summary>
    [Fact]
    public void Txpkt2rsp_invalid()
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo, id: 69).Extra(new NetifExtraInfo { Type = 0xFF }).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(0, packet.RingSlots);
        Assert.Throws<ArgumentException>(() => TxResponder.Respond(_ring.Back, packet, _ring.Slots, NetifResponseStatus.Error));
        Assert.Equal(0u, _ring.Back.ResponseProducer);
    }

    [Fact]
    public void Txpkt2rsp_error()
    {
        _ring.Request(1000, id: 3).Push();
        var packet = _ring.Parse();
        ConsumeRespondPush(packet, NetifResponseStatus.Error);
        Assert.Equal(_ring.Page.Header.ReqProd, _ring.Back.ResponseProducer);
        Assert.Equal(3, _ring.Response(0).Id);
        Assert.Equal(NetifResponseStatus.Error, _ring.Response(0).Status);
    }

    [Fact]
    public void Txpkt2rsp_wraps()
    {
        using var ring = new TxRingBuilder(start: 256 - 2);
        ring.Request(550, NetTxFlags.MoreData, id: 1).Request(100, NetTxFlags.MoreData, id: 2).Request(50, id: 3).Push();
        var packet = ring.Parse();
        ring.ConsumeAndRespond(packet, TxResponder.StatusOf(packet));
        ring.Back.PushResponsesAndCheckNotify();
        Assert.Equal(ring.Page.Header.ReqProd, ring.Back.ResponseProducer);
        Assert.Equal((3, NetifResponseStatus.Okay), (ring.Response(2).Id, ring.Response(2).Status));
    }

    [Fact]
    public void Error_packet_answers_every_data_slot_with_error_and_every_extra_with_null()
    {
        _ring.Request(100, NetTxFlags.ExtraInfo | NetTxFlags.MoreData, id: 10).Gso(1400)
            .Request(90, NetTxFlags.MoreData, id: 11).Request(5, id: 12).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Error, packet.Outcome);
        ConsumeRespondPush(packet, TxResponder.StatusOf(packet));
        Assert.Equal(4u, _ring.Front.UnconsumedResponses());
        Assert.Equal((10, NetifResponseStatus.Error), (_ring.Response(0).Id, _ring.Response(0).Status));
        Assert.Equal(NetifResponseStatus.Null, _ring.Response(1).Status);
        Assert.Equal((11, NetifResponseStatus.Error), (_ring.Response(2).Id, _ring.Response(2).Status));
        Assert.Equal((12, NetifResponseStatus.Error), (_ring.Response(3).Id, _ring.Response(3).Status));
    }

    [Fact]
    public void Zero_size_middle_slot_is_answered_okay()
    {
        _ring.Request(100, NetTxFlags.MoreData, id: 1).Request(0, NetTxFlags.MoreData, id: 2).Request(40, id: 3).Push();
        var packet = _ring.Parse();
        ConsumeRespondPush(packet, TxResponder.StatusOf(packet));
        Assert.Equal((2, NetifResponseStatus.Okay), (_ring.Response(1).Id, _ring.Response(1).Status));
    }

    [Fact]
    public void Twenty_slot_packet_gets_twenty_error_responses()
    {
        _ring.Packet(TxPacketParserTests.SlotSizes(20)).Push();
        var packet = _ring.Parse();
        ConsumeRespondPush(packet, TxResponder.StatusOf(packet));
        Assert.Equal(20u, _ring.Front.UnconsumedResponses());
        for (uint i = 0; i < 20; i++)
            Assert.Equal((i, NetifResponseStatus.Error), (_ring.Response(i).Id, _ring.Response(i).Status));
    }

    [Fact]
    public void Multicast_control_request_is_answered_with_its_extras()
    {
        _ring.Request(0, NetTxFlags.ExtraInfo, id: 8).Multicast(NetifExtraType.MulticastAdd, [1, 0, 0x5E, 0, 0, 1]).Push();
        var packet = _ring.Parse();
        ConsumeRespondPush(packet, NetifResponseStatus.Okay);
        Assert.Equal(2u, _ring.Front.UnconsumedResponses());
        Assert.Equal((8, NetifResponseStatus.Okay), (_ring.Response(0).Id, _ring.Response(0).Status));
        Assert.Equal(NetifResponseStatus.Null, _ring.Response(1).Status);
    }
}
