using System.Runtime.CompilerServices;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Xen.Tests.Netfront;

public sealed class SimNetfrontRingTests
{
    private static readonly TimeSpan Timeout = NetfrontSession.Timeout;

    private static byte[] Frame(int length)
    {
        var frame = new byte[length];
        for (var i = 0; i < length; i++)
            frame[i] = (byte)(i ^ (i >> 8));
        return frame;
    }

    private static async Task WaitUntilAsync(Func<bool> done, string what)
    {
        // The netfront is woken by the backend's notification; give it a bounded time to act on it.
        using var cts = new CancellationTokenSource(Timeout);
        while (!done())
        {
            if (cts.IsCancellationRequested)
                Assert.Fail(what);
            await Task.Delay(1);
        }
    }

    [Fact]
    public async Task Gso_frame_puts_its_extra_right_after_the_first_slot_with_the_checksum_flags()
    {
        await using var s = await NetfrontSession.StartAsync(o => o with { FeatureGsoTcpV4 = true }, f => f["feature-gso-tcpv4"] = "1");
        Assert.Equal("1", await s.Backend.ReadFrontendAsync("feature-gso-tcpv4"));

        s.Front.TrySend(Frame(9000), new SimTxOptions { GsoType = NetifGsoType.TcpV4, GsoSize = 1448, CsumBlank = true, DataValidated = true });
        var slots = await s.Backend.TakeTxSlotsAsync(4, Timeout);

        var first = slots[0];
        Assert.Equal(NetTxFlags.CsumBlank | NetTxFlags.DataValidated | NetTxFlags.MoreData | NetTxFlags.ExtraInfo, (NetTxFlags)first.Flags);
        Assert.Equal(9000, first.Size);
        var slot = slots[1];
        var extra = Unsafe.As<NetifTxRequest, NetifExtraInfo>(ref slot);
        Assert.Equal(NetifExtraType.Gso, extra.Type);
        Assert.Equal(0, extra.Flags);
        Assert.Equal(1448, extra.GsoSize);
        Assert.Equal(NetifGsoType.TcpV4, extra.GsoType);
        Assert.Equal(NetTxFlags.MoreData, (NetTxFlags)slots[2].Flags);
        Assert.Equal(4096, slots[2].Size);
        Assert.Equal(NetTxFlags.None, (NetTxFlags)slots[3].Flags);
        Assert.Equal(808, slots[3].Size);

        s.Backend.RespondTx((first.Id, NetifResponseStatus.Okay), (0, NetifResponseStatus.Null), (slots[2].Id, NetifResponseStatus.Okay), (slots[3].Id, NetifResponseStatus.Okay));
        await s.Front.WaitForTxIdleAsync(new CancellationTokenSource(Timeout).Token);
        Assert.Equal(0, s.Front.Counters.TxErrors);
    }

    [Fact]
    public async Task Frames_sent_with_more_reach_the_backend_together_with_the_next_frame_without_it()
    {
        await using var s = await NetfrontSession.StartAsync();
        var frame = Frame(100);
        var published = Volatile.Read(ref s.Backend.TxHeader.ReqProd);
        var events = Volatile.Read(ref s.Backend.TxEvents);
        for (var i = 0; i < 3; i++)
            Assert.True(s.Front.TrySend(frame, new SimTxOptions { More = true }));
        Assert.Equal(published, Volatile.Read(ref s.Backend.TxHeader.ReqProd));
        Assert.Equal(events, Volatile.Read(ref s.Backend.TxEvents));

        Assert.True(s.Front.TrySend(frame));
        Assert.Equal(published + 4, Volatile.Read(ref s.Backend.TxHeader.ReqProd));
        var requests = await s.Backend.TakeTxSlotsAsync(4, Timeout);
        Assert.Equal(4, requests.Count);
    }

    [Fact]
    public async Task A_send_that_finds_the_ring_full_publishes_the_frames_held_back_by_more()
    {
        // The space such a send waits for comes only from the backend's answers to the held-back frames:
        // left unpublished, a More burst that fills the ring would wait forever.
        await using var s = await NetfrontSession.StartAsync();
        var published = Volatile.Read(ref s.Backend.TxHeader.ReqProd);
        for (var i = 0; i < 256; i++)
            Assert.True(s.Front.TrySend(Frame(60), new SimTxOptions { More = true }), $"frame {i} did not fit an empty ring");
        Assert.Equal(published, Volatile.Read(ref s.Backend.TxHeader.ReqProd));

        Assert.False(s.Front.TrySend(Frame(60), new SimTxOptions { More = true }));
        Assert.Equal(published + 256, Volatile.Read(ref s.Backend.TxHeader.ReqProd));
        var slots = await s.Backend.TakeTxSlotsAsync(256, Timeout);
        Assert.Equal(256, slots.Select(r => r.Id).Distinct().Count());
    }

    [Fact]
    public async Task Gso_and_multi_slot_frames_are_refused_when_not_negotiated()
    {
        await using var s = await NetfrontSession.StartAsync(o => o with { FeatureGsoTcpV4 = true, FeatureSg = false });
        Assert.Null(await s.Backend.ReadFrontendAsync("feature-gso-tcpv6"));
        Assert.Equal("0", await s.Backend.ReadFrontendAsync("feature-sg"));
        Assert.Throws<InvalidOperationException>(() => s.Front.TrySend(Frame(100), new SimTxOptions { GsoType = NetifGsoType.TcpV4, GsoSize = 1000 }));
        Assert.Throws<InvalidOperationException>(() => s.Front.TrySend(Frame(5000)));
        Assert.Throws<ArgumentException>(() => s.Front.TrySend(new byte[65536]));
        Assert.Equal(0, s.Front.Counters.Sent);
    }

    [Fact]
    public async Task Error_responses_count_as_tx_errors_and_still_end_their_grants()
    {
        await using var s = await NetfrontSession.StartAsync();
        Assert.True(s.Front.TrySend(Frame(5000)));
        var slots = await s.Backend.TakeTxSlotsAsync(2, Timeout);
        s.Backend.RespondTx((slots[0].Id, NetifResponseStatus.Error), (slots[1].Id, NetifResponseStatus.Error));
        await s.Front.WaitForTxIdleAsync(new CancellationTokenSource(Timeout).Token);
        Assert.Equal(2, s.Front.Counters.TxErrors);
        Assert.Equal(0, s.Front.Domain.Granter!.ReadEntry(slots[0].Gref).Flags);
        Assert.Equal(0, s.Front.Domain.Granter!.ReadEntry(slots[1].Gref).Flags);
    }

    [Fact]
    public async Task A_full_ring_refuses_TrySend_and_SendAsync_waits_for_responses()
    {
        await using var s = await NetfrontSession.StartAsync();
        for (var i = 0; i < 256; i++)
            Assert.True(s.Front.TrySend(Frame(60)), $"frame {i} did not fit an empty ring");
        Assert.False(s.Front.TrySend(Frame(60)));
        var waiting = s.Front.SendAsync(Frame(60)).AsTask();
        var slots = await s.Backend.TakeTxSlotsAsync(256, Timeout);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(256, slots.Select(r => r.Id).Distinct().Count());

        s.Backend.RespondTx((slots[0].Id, NetifResponseStatus.Okay));
        await waiting.WaitAsync(Timeout);
        Assert.Equal(257, s.Front.Counters.Sent);
        Assert.True(s.Front.Counters.TxRingFull >= 2);
    }

    [Fact]
    public async Task The_frontend_notifies_only_when_req_event_asks()
    {
        await using var s = await NetfrontSession.StartAsync();
        Assert.True(s.Front.TrySend(Frame(60)));
        await s.Backend.TakeTxSlotsAsync(1, Timeout);
        // The first push notified (req_event starts at 1); let that wake-up land before counting.
        await WaitUntilAsync(() => Volatile.Read(ref s.Backend.TxEvents) >= 1, "the first push did not notify");
        var before = Volatile.Read(ref s.Backend.TxEvents);
        // The backend is busy: it wants no notification until the 10th request from here.
        var prod = s.Backend.Tx!.ReadRequestProducer();
        s.Backend.Tx.SetRequestEvent(prod + 10);
        for (var i = 0; i < 9; i++)
            Assert.True(s.Front.TrySend(Frame(60)));
        await Task.Delay(50);
        Assert.Equal(before, Volatile.Read(ref s.Backend.TxEvents));
        Assert.True(s.Front.TrySend(Frame(60)));
        await WaitUntilAsync(() => Volatile.Read(ref s.Backend.TxEvents) > before, "the push that crossed req_event did not notify");
    }

    [Fact]
    public async Task Split_event_channels_are_used_when_both_sides_offer_them()
    {
        await using var s = await NetfrontSession.StartAsync(o => o with { SplitEventChannels = true }, f => f["feature-split-event-channels"] = "1");
        Assert.True(s.Front.SplitEventChannels);
        Assert.Null(await s.Backend.ReadFrontendAsync("event-channel"));
        Assert.NotEqual(await s.Backend.ReadFrontendAsync("event-channel-tx"), await s.Backend.ReadFrontendAsync("event-channel-rx"));
        Assert.NotEqual(s.Backend.TxPort, s.Backend.RxPort);

        var sent = Frame(3000);
        Assert.True(s.Front.TrySend(sent));
        Assert.Equal(sent, await s.Backend.ReceiveTxFrameAsync(Timeout));
        await WaitUntilAsync(() => Volatile.Read(ref s.Backend.TxEvents) > 0, "the TX push did not notify the TX port");

        var back = Frame(700);
        await s.Backend.DeliverRxFrameAsync(back, Timeout);
        Assert.Equal(back, (await s.Consumer.NextAsync(Timeout)).Frame);
    }

    [Fact]
    public async Task Rx_chain_with_a_gso_extra_is_reassembled_with_its_flags()
    {
        await using var s = await NetfrontSession.StartAsync(o => o with { FeatureGsoTcpV4 = true }, f => f["feature-gso-tcpv4"] = "1");
        var requests = await s.Backend.TakeRxRequestsAsync(3, Timeout);
        var frame = Frame(6000);
        Assert.Equal(0, s.Backend.CopyToRxBuffer(requests[0], frame.AsSpan(0, 4096)));
        Assert.Equal(0, s.Backend.CopyToRxBuffer(requests[2], frame.AsSpan(4096)));
        var extra = new NetifExtraInfo { Type = NetifExtraType.Gso, GsoSize = 1448, GsoType = NetifGsoType.TcpV4 };
        s.Backend.RespondRx(
            new NetifRxResponse { Id = requests[0].Id, Flags = (ushort)(NetRxFlags.ExtraInfo | NetRxFlags.MoreData | NetRxFlags.DataValidated | NetRxFlags.CsumBlank), Status = 4096 },
            Unsafe.As<NetifExtraInfo, NetifRxResponse>(ref extra),
            new NetifRxResponse { Id = requests[2].Id, Flags = 0, Status = 6000 - 4096 });

        var (received, info) = await s.Consumer.NextAsync(Timeout);
        Assert.Equal(frame, received);
        Assert.Equal(NetifGsoType.TcpV4, info.GsoType);
        Assert.Equal(1448, info.GsoSize);
        Assert.True(info.DataValidated && info.CsumBlank);
        Assert.Equal(2, info.Slots);
        // Every consumed buffer was posted again.
        await WaitUntilAsync(() => s.Backend.Rx!.UnconsumedRequests(s.Backend.Rx.ReadRequestProducer()) == 256, "the netfront did not re-post its three RX buffers");
    }

    [Fact]
    public async Task An_rx_error_response_drops_the_frame_and_counts_it()
    {
        await using var s = await NetfrontSession.StartAsync();
        var requests = await s.Backend.TakeRxRequestsAsync(3, Timeout);
        s.Backend.RespondRx(
            new NetifRxResponse { Id = requests[0].Id, Flags = (ushort)NetRxFlags.MoreData, Status = NetifResponseStatus.Error },
            new NetifRxResponse { Id = requests[1].Id, Flags = 0, Status = 100 });
        Assert.Equal(0, s.Backend.CopyToRxBuffer(requests[2], Frame(80)));
        s.Backend.RespondRx(new NetifRxResponse { Id = requests[2].Id, Offset = 0, Flags = 0, Status = 80 });
        var (frame, _) = await s.Consumer.NextAsync(Timeout);
        Assert.Equal(Frame(80), frame);
        Assert.Equal(1, s.Front.Counters.RxErrors);
        Assert.Equal(1, s.Front.Counters.Received);
    }

    [Fact]
    public async Task A_backend_that_overruns_rsp_prod_makes_the_tx_ring_unusable_not_the_guest()
    {
        await using var s = await NetfrontSession.StartAsync();
        Assert.True(s.Front.TrySend(Frame(60)));
        await s.Backend.TakeTxSlotsAsync(1, Timeout);
        Volatile.Write(ref s.Backend.TxHeader.RspProd, 1000);
        s.Front.Kick();
        var e = Assert.Throws<InvalidOperationException>(() => s.Front.TrySend(Frame(60)));
        Assert.Contains("rsp_prod", e.Message, StringComparison.Ordinal);
    }
}
