using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Offload;

namespace Backend.Xen.Tests.Netback;

/// <summary>RX beyond FreeBSD's cases: wrap-around, the largest GSO frame, batching, hostile grants, no space.</summary>
public class RxRingTests
{
    private const int PageSize = NetifConstants.PageSize;
    private const ushort Domid = RxTestRing.FrontendDomid;

    [Fact]
    public void Rx_ring_wraps_across_2_pow_32()
    {
        const uint start = uint.MaxValue - 1;
        using var ring = new RxTestRing(start);
        ring.PostMany(4);
        var guest = GrantAll(4);
        using var frame = new RxTestFrame(3 * PageSize - 10);

        int responses = RxFreeBsdPortTests.SendOne(ring, guest, frame.Frame(NetifGsoType.TcpV6, 1440));

        Assert.Equal(4, responses);
        Assert.Equal(2u, ring.Back.ResponseProducer);
        Assert.Equal(2u, ring.Back.RequestConsumer);
        Assert.Equal(4u, ring.Front.UnconsumedResponses());
        Assert.Equal((100, PageSize), (ring.Response(start).Id, ring.Response(start).Status));
        Assert.Equal(NetifExtraType.Gso, ring.Extra(start + 1).Type);
        Assert.Equal(NetifGsoType.TcpV6, ring.Extra(start + 1).GsoType);
        Assert.Equal((102, PageSize), (ring.Response(0).Id, ring.Response(0).Status));
        Assert.Equal((103, PageSize - 10), (ring.Response(1).Id, ring.Response(1).Status));
        Assert.Equal(frame.Bytes[PageSize..(2 * PageSize)].ToArray(), guest.Page(1002));
        Assert.Equal(frame.Bytes[(2 * PageSize)..].ToArray(), guest.Page(1003)[..(PageSize - 10)]);
    }

    [Fact]
    public void Gso_frame_of_a_65535_byte_ip_packet_takes_17_data_slots_and_one_extra()
    {
        const int length = 0xFFFF + 14;
        using var ring = new RxTestRing(40);
        ring.PostMany(18);
        var guest = GrantAll(18);
        using var frame = new RxTestFrame(length, pageOffset: 6);

        int responses = RxFreeBsdPortTests.SendOne(ring, guest, frame.Frame(NetifGsoType.TcpV4, 1448));

        Assert.Equal(18, responses);
        NetifRxResponse first = ring.Response(40);
        Assert.Equal((ushort)(NetRxFlags.MoreData | NetRxFlags.ExtraInfo | NetRxFlags.CsumBlank | NetRxFlags.DataValidated), first.Flags);
        Assert.Equal(1448, ring.Extra(41).GsoSize);
        int total = first.Status;
        var received = new List<byte>(guest.Page(1000)[..first.Status]);
        for (uint slot = 1; slot < 17; slot++)
        {
            NetifRxResponse rsp = ring.Response(41 + slot);
            Assert.Equal(100 + slot + 1, rsp.Id);
            Assert.Equal(slot < 16 ? (ushort)NetRxFlags.MoreData : (ushort)0, rsp.Flags);
            total += rsp.Status;
            received.AddRange(guest.Page(1000 + slot + 1)[..rsp.Status]);
        }
        Assert.Equal(length, total);
        Assert.Equal(13, ring.Response(57).Status);
        Assert.Equal(frame.Bytes.ToArray(), received.ToArray());
    }

    [Fact]
    public void No_space_leaves_the_ring_untouched()
    {
        using var ring = new RxTestRing(250);
        uint reqProd = ring.PostMany(3);
        byte[] before = ring.Snapshot();
        using var frame = new RxTestFrame(3 * PageSize);

        RxPlanStatus status = RxSlotPlanner.Plan(frame.Frame(NetifGsoType.TcpV4, 1448), ring.Back, reqProd, out RxPacket packet);

        Assert.Equal(RxPlanStatus.NoSpace, status);
        Assert.False(packet.IsValid);
        Assert.Equal((250u, 250u), (ring.Back.RequestConsumer, ring.Back.ResponseProducer));
        Assert.Equal(before, ring.Snapshot());
        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), ring.Back, reqProd, out _));
    }

    [Fact]
    public void Full_copy_batch_refuses_the_packet_without_consuming_anything()
    {
        using var ring = new RxTestRing();
        uint reqProd = ring.PostMany(3);
        byte[] before = ring.Snapshot();
        using var frame = new RxTestFrame(3 * PageSize);
        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), ring.Back, reqProd, out RxPacket packet));
        var batch = new GrantCopySegment[4];
        int used = 2;

        Assert.False(RxCopyPlanner.TryPlan(frame.Frame(), ref packet, ring.Back, Domid, batch, ref used));

        Assert.Equal(2, used);
        Assert.Equal(0u, ring.Back.RequestConsumer);
        Assert.Equal(before, ring.Snapshot());
        Assert.All(batch, s => Assert.Equal(default, s));
    }

    [Fact]
    public void Many_frames_share_one_copy_batch_and_are_answered_together()
    {
        using var ring = new RxTestRing(100);
        uint reqProd = ring.PostMany(5);
        var guest = GrantAll(5);
        using var a = new RxTestFrame(60, seed: 1);
        using var b = new RxTestFrame(PageSize + 1, pageOffset: 100, seed: 2);
        using var c = new RxTestFrame(1514, seed: 3);
        RxFrame[] frames = [a.Frame(), b.Frame(NetifGsoType.TcpV4, 1448), c.Frame(checksum: FrameChecksum.Validated)];
        var packets = new RxPacket[frames.Length];
        var batch = new GrantCopySegment[16];
        int used = 0;

        for (int i = 0; i < frames.Length; i++)
        {
            Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frames[i], ring.Back, reqProd, out packets[i]));
            Assert.True(RxCopyPlanner.TryPlan(frames[i], ref packets[i], ring.Back, Domid, batch, ref used));
        }
        Assert.Equal(RxPlanStatus.NoSpace, RxSlotPlanner.Plan(c.Frame(), ring.Back, reqProd, out _));
        guest.Copy(batch.AsSpan(0, used));
        int responses = RxResponder.RespondAll(packets, batch.AsSpan(0, used), ring.Back);
        bool notify = ring.Back.PushResponsesAndCheckNotify();

        Assert.Equal(1 + 3 + 1, responses);
        Assert.True(notify, "the frontend asked to be told of the first response");
        Assert.Equal(5u, ring.Front.UnconsumedResponses());
        Assert.Equal(a.Bytes.ToArray(), guest.Page(1000)[..60]);
        Assert.Equal(60, ring.Response(100).Status);
        Assert.Equal((ushort)(NetRxFlags.MoreData | NetRxFlags.ExtraInfo | NetRxFlags.CsumBlank | NetRxFlags.DataValidated), ring.Response(101).Flags);
        Assert.Equal(NetifExtraType.Gso, ring.Extra(102).Type);
        Assert.Equal((103, 1), (ring.Response(103).Id, ring.Response(103).Status));
        Assert.Equal(b.Bytes[PageSize..].ToArray(), guest.Page(1003)[..1]);
        Assert.Equal((ushort)NetRxFlags.DataValidated, ring.Response(104).Flags);
        Assert.Equal(c.Bytes.ToArray(), guest.Page(1004)[..1514]);
    }

    [Fact]
    public void Copy_into_a_grant_the_frontend_never_made_fails_only_that_packet()
    {
        using var ring = new RxTestRing();
        ring.Post((1, 500), (2, 501), (3, 502));
        var guest = new GuestPages(Domid);
        guest.Grant(500);
        guest.Grant(502);   // 501 is not granted: a hostile or buggy frontend
        using var big = new RxTestFrame(PageSize + 20);
        using var small = new RxTestFrame(64);
        var packets = new RxPacket[2];
        var batch = new GrantCopySegment[8];
        int used = 0;
        uint reqProd = ring.Back.ReadRequestProducer();
        RxSlotPlanner.Plan(big.Frame(checksum: FrameChecksum.Blank), ring.Back, reqProd, out packets[0]);
        RxCopyPlanner.TryPlan(big.Frame(), ref packets[0], ring.Back, Domid, batch, ref used);
        RxSlotPlanner.Plan(small.Frame(), ring.Back, reqProd, out packets[1]);
        RxCopyPlanner.TryPlan(small.Frame(), ref packets[1], ring.Back, Domid, batch, ref used);

        guest.Copy(batch.AsSpan(0, used));
        RxResponder.RespondAll(packets, batch.AsSpan(0, used), ring.Back);

        Assert.Equal((1, NetifResponseStatus.Error, (ushort)NetRxFlags.MoreData), (ring.Response(0).Id, ring.Response(0).Status, ring.Response(0).Flags));
        Assert.Equal((2, NetifResponseStatus.Error, (ushort)0), (ring.Response(1).Id, ring.Response(1).Status, ring.Response(1).Flags));
        Assert.Equal((3, (short)64), (ring.Response(2).Id, ring.Response(2).Status));
    }

    [Fact]
    public void Copies_not_yet_run_are_never_answered_as_success()
    {
        using var ring = new RxTestRing();
        ring.PostMany(1);
        using var frame = new RxTestFrame(100);
        RxSlotPlanner.Plan(frame.Frame(), ring.Back, ring.Back.ReadRequestProducer(), out RxPacket packet);
        var batch = new GrantCopySegment[2];
        int used = 0;
        RxCopyPlanner.TryPlan(frame.Frame(), ref packet, ring.Back, Domid, batch, ref used);

        RxResponder.Respond(packet, batch.AsSpan(0, used), ring.Back);

        Assert.Equal(NetifResponseStatus.Error, ring.Response(0).Status);
    }

    [Theory]
    [InlineData(100, NetifGsoType.TcpV4, 0)]
    [InlineData(100, (byte)3, 1448)]
    [InlineData(RxPacket.MaxFrameLength + 1, NetifGsoType.TcpV4, 1448)]
    [InlineData(-1, NetifGsoType.None, 0)]
    public void Frames_the_frontend_cannot_take_are_refused(int length, byte gsoType, ushort gsoSize)
    {
        var frame = new RxFrame(0x10000, length, gsoType, gsoSize);

        Assert.Equal(RxPlanStatus.Invalid, RxSlotPlanner.Plan(frame, 0, 256, out RxPacket packet));
        Assert.False(packet.IsValid);
    }

    [Fact]
    public void Frame_without_memory_is_refused()
    {
        Assert.Equal(RxPlanStatus.Invalid, RxSlotPlanner.Plan(new RxFrame(0, 60), 0, 256, out _));
    }

    [Theory]
    [InlineData(FrameChecksum.None, NetifGsoType.None, NetRxFlags.None)]
    [InlineData(FrameChecksum.Validated, NetifGsoType.None, NetRxFlags.DataValidated)]
    [InlineData(FrameChecksum.Blank, NetifGsoType.None, NetRxFlags.DataValidated | NetRxFlags.CsumBlank)]
    [InlineData(FrameChecksum.None, NetifGsoType.TcpV4, NetRxFlags.DataValidated | NetRxFlags.CsumBlank | NetRxFlags.ExtraInfo)]
    public void First_slot_flags_follow_the_checksum_state(FrameChecksum checksum, byte gsoType, NetRxFlags expected)
    {
        var frame = new RxFrame(0x10000, 1000, gsoType, gsoType == NetifGsoType.None ? (ushort)0 : (ushort)1448, checksum);

        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame, 0, 256, out RxPacket packet));

        Assert.Equal(expected, packet.Flags);
    }

    [Fact]
    public void Request_producer_behind_the_consumer_gives_no_space_rather_than_stale_slots()
    {
        using var ring = new RxTestRing(10);
        ring.Header.ReqProd = 5;   // a hostile frontend moved req_prod backwards

        Assert.Equal(RxPlanStatus.NoSpace, RxSlotPlanner.Plan(new RxFrame(0x10000, 60), ring.Back, ring.Back.ReadRequestProducer(), out _));
    }

    [Fact]
    public void Gso_extra_is_written_over_exactly_one_response_slot()
    {
        // RxResponder writes a netif_extra_info where a netif_rx_response goes, as netif.h's union does.
        Assert.Equal(8, System.Runtime.CompilerServices.Unsafe.SizeOf<NetifExtraInfo>());
        Assert.Equal(8, System.Runtime.CompilerServices.Unsafe.SizeOf<NetifRxResponse>());
    }

    private static GuestPages GrantAll(int count)
    {
        var guest = new GuestPages(Domid);
        for (uint n = 0; n < count; n++)
            guest.Grant(1000 + n);
        return guest;
    }
}
