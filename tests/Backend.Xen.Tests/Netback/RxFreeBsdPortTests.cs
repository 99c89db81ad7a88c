using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Offload;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// The RX cases of FreeBSD's netback_unit_tests.c under their own names, for a frame in contiguous
/// local memory instead of an mbuf chain (MCLBYTES = 2048, MHLEN taken as 160, TCP_MSS = 536).
/// </summary>
public class RxFreeBsdPortTests
{
    private const int PageSize = NetifConstants.PageSize;
    private const int Mclbytes = 2048;
    private const int Mhlen = 160;
    private const ushort TcpMss = 536;
    private const ushort Domid = RxTestRing.FrontendDomid;

    [Fact]
    public void mbufc2pkt_empty()
    {
        using var frame = new RxTestFrame(0);

        RxPlanStatus status = RxSlotPlanner.Plan(frame.Frame(), start: 0, available: 64, out RxPacket packet);

        Assert.Equal(RxPlanStatus.Invalid, status);
        Assert.False(packet.IsValid);
    }

    [Fact]
    public void mbufc2pkt_short()
    {
        using var frame = new RxTestFrame(128);

        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), start: 9, available: 64, out RxPacket packet));

        Assert.True(packet.IsValid);
        Assert.Equal(128, packet.Size);
        Assert.Equal(128, packet.DataSlotLength(0));
        Assert.Equal(NetRxFlags.None, packet.Flags & (NetRxFlags.MoreData | NetRxFlags.ExtraInfo));
        Assert.Equal(1, packet.DataSlots);
        Assert.Equal(9u, packet.Start);
    }

    [Fact]
    public void mbufc2pkt_1cluster()
    {
        using var frame = new RxTestFrame(Mclbytes);

        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), start: 12, available: 32, out RxPacket packet));

        Assert.Equal(Mclbytes, packet.Size);
        Assert.Equal(Mclbytes, packet.DataSlotLength(0));
        Assert.Equal(NetRxFlags.None, packet.Flags & (NetRxFlags.MoreData | NetRxFlags.ExtraInfo));
        Assert.Equal(1, packet.DataSlots);
        Assert.Equal(12u, packet.Start);
    }

    [Fact]
    public void mbufc2pkt_2short()
    {
        // Two short pieces of one frame still share one page: one slot, the next packet at start + 1.
        using var frame = new RxTestFrame(Mhlen - 5 + Mhlen - 15);

        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), start: 14, available: 32, out RxPacket packet));

        Assert.Equal(Mhlen - 5 + Mhlen - 15, packet.Size);
        Assert.Equal(14u, packet.Start);
        Assert.Equal(1, packet.DataSlots);
        Assert.Equal(15u, packet.End);
    }

    [Fact]
    public void mbufc2pkt_long()
    {
        const int size = 14 * Mclbytes / 3;
        using var frame = new RxTestFrame(size);

        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), start: 3, available: 15, out RxPacket packet));

        Assert.Equal(size, packet.Size);
        Assert.Equal(3u, packet.Start);
        Assert.Equal(PageSize, packet.DataSlotLength(0));
        Assert.Equal(3, packet.DataSlots);
        Assert.True(packet.Flags.HasFlag(NetRxFlags.MoreData));
        Assert.False(packet.Flags.HasFlag(NetRxFlags.ExtraInfo));
        Assert.Equal(packet.Start + 1, packet.DataSlotIndex(1));
    }

    [Fact]
    public void mbufc2pkt_extra()
    {
        const int size = 14 * Mclbytes / 3;
        const ushort mss = TcpMss - 40;
        using var frame = new RxTestFrame(size);

        Assert.Equal(RxPlanStatus.Ok,
            RxSlotPlanner.Plan(frame.Frame(NetifGsoType.TcpV4, mss), start: 3, available: 15, out RxPacket packet));

        Assert.Equal(size, packet.Size);
        Assert.Equal(3u, packet.Start);
        Assert.Equal(PageSize, packet.DataSlotLength(0));
        Assert.True(packet.Flags.HasFlag(NetRxFlags.ExtraInfo));
        Assert.True(packet.Flags.HasFlag(NetRxFlags.DataValidated));
        Assert.True(packet.HasExtra);
        Assert.Equal(packet.Start + 2, packet.DataSlotIndex(1));
        Assert.Equal(mss, packet.GsoSize);
        Assert.Equal(NetifGsoType.TcpV4, packet.GsoType);
        Assert.Equal(4, packet.Slots);
    }

    [Fact]
    public void mbufc2pkt_nospace()
    {
        using var frame = new RxTestFrame(14 * Mclbytes / 3);

        RxPlanStatus status = RxSlotPlanner.Plan(frame.Frame(), start: 3, available: 2, out RxPacket packet);

        Assert.Equal(RxPlanStatus.NoSpace, status);
        Assert.False(packet.IsValid);
    }

    [Fact]
    public void rxpkt2gnttab_empty()
    {
        using var ring = new RxTestRing();
        ring.PostMany(60);
        using var frame = new RxTestFrame(0);
        RxSlotPlanner.Plan(frame.Frame(), ring.Back, ring.Back.ReadRequestProducer(), out RxPacket packet);
        var batch = new GrantCopySegment[64];
        int used = 0;

        Assert.True(RxCopyPlanner.TryPlan(frame.Frame(), ref packet, ring.Back, Domid, batch, ref used));

        Assert.Equal(0, used);
        Assert.Equal(0, packet.SegmentCount);
        Assert.Equal(0u, ring.Back.RequestConsumer);
    }

    [Fact]
    public void rxpkt2gnttab_short()
    {
        using var ring = new RxTestRing(9);
        ring.Post((3, 7));
        using var frame = new RxTestFrame(128);
        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), ring.Back, ring.Back.ReadRequestProducer(), out RxPacket packet));
        var batch = new GrantCopySegment[64];
        int used = 0;

        Assert.True(RxCopyPlanner.TryPlan(frame.Frame(), ref packet, ring.Back, Domid, batch, ref used));

        Assert.Equal(1, used);
        Assert.Equal(128, batch[0].Length);
        Assert.Equal(GrantCopySegment.DestGref, batch[0].Flags);
        Assert.Equal(0, batch[0].Dest.Offset);
        Assert.Equal(7u, batch[0].Dest.Ref);
        Assert.Equal(Domid, batch[0].Dest.DomId);
        Assert.Equal(frame.Address, batch[0].Source.Virt);
    }

    [Fact]
    public void rxpkt2gnttab_2req()
    {
        const int size = PageSize + 1;
        using var ring = new RxTestRing(11);
        ring.Post((5, 0x20), (5, 0x21));
        using var frame = new RxTestFrame(size);
        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), ring.Back, ring.Back.ReadRequestProducer(), out RxPacket packet));
        var batch = new GrantCopySegment[64];
        int used = 0;

        Assert.True(RxCopyPlanner.TryPlan(frame.Frame(), ref packet, ring.Back, Domid, batch, ref used));

        Assert.True(used >= 2);
        int total = 0;
        for (int i = 0; i < used; i++)
        {
            Assert.True(batch[i].Dest.Offset + batch[i].Length <= PageSize, $"segment {i} crosses its granted page");
            Assert.True((batch[i].Source.Virt & (PageSize - 1)) + batch[i].Length <= PageSize, $"segment {i} crosses a local page");
            total += batch[i].Length;
        }
        Assert.Equal(size, total);
        Assert.Equal(0x20u, batch[0].Dest.Ref);
        Assert.Equal(0x21u, batch[used - 1].Dest.Ref);
    }

    [Fact]
    public void rxpkt2rsp_empty()
    {
        using var ring = new RxTestRing();
        ring.PostMany(60);
        byte[] before = ring.Snapshot();
        using var frame = new RxTestFrame(0);
        RxSlotPlanner.Plan(frame.Frame(), ring.Back, ring.Back.ReadRequestProducer(), out RxPacket packet);
        var batch = new GrantCopySegment[64];
        int used = 0;
        RxCopyPlanner.TryPlan(frame.Frame(), ref packet, ring.Back, Domid, batch, ref used);

        int responses = RxResponder.Respond(packet, batch.AsSpan(0, used), ring.Back);

        Assert.Equal(0, responses);
        Assert.Equal((0u, 0u), (ring.Back.RequestConsumer, ring.Back.ResponseProducer));
        Assert.Equal(before, ring.Snapshot());
    }

    [Fact]
    public void rxpkt2rsp_short()
    {
        const uint start = 5;
        using var ring = new RxTestRing(start);
        ring.Post((33, 7));
        var guest = new GuestPages(Domid);
        guest.Grant(7);
        using var frame = new RxTestFrame(128);

        int responses = SendOne(ring, guest, frame.Frame());

        Assert.Equal(1, responses);
        Assert.Equal(start + 1, ring.Back.ResponseProducer);
        NetifRxResponse rsp = ring.Response(start);
        Assert.Equal(33, rsp.Id);
        Assert.Equal(0, rsp.Offset);
        Assert.Equal(0, rsp.Flags & (ushort)(NetRxFlags.MoreData | NetRxFlags.ExtraInfo));
        Assert.Equal(128, rsp.Status);
        Assert.Equal(frame.Bytes.ToArray(), guest.Page(7)[..128]);
    }

    [Fact]
    public void rxpkt2rsp_extra()
    {
        const uint start = 3;
        const ushort id = 49, mss = TcpMss - 40;
        const uint gref = 65;
        using var ring = new RxTestRing(start);
        ring.Post((id, gref), (id + 1, gref + 1));
        var guest = new GuestPages(Domid);
        guest.Grant(gref);
        guest.Grant(gref + 1);
        using var frame = new RxTestFrame(14);

        int responses = SendOne(ring, guest, frame.Frame(NetifGsoType.TcpV4, mss, FrameChecksum.Blank));

        Assert.Equal(2, responses);
        Assert.Equal(start + 2, ring.Back.ResponseProducer);
        NetifRxResponse rsp = ring.Response(start);
        var flags = (NetRxFlags)rsp.Flags;
        Assert.Equal(id, rsp.Id);
        Assert.False(flags.HasFlag(NetRxFlags.MoreData));
        Assert.True(flags.HasFlag(NetRxFlags.ExtraInfo));
        Assert.True(flags.HasFlag(NetRxFlags.DataValidated));
        Assert.True(flags.HasFlag(NetRxFlags.CsumBlank));
        Assert.Equal(14, rsp.Status);

        NetifExtraInfo extra = ring.Extra(start + 1);
        Assert.Equal(NetifExtraType.Gso, extra.Type);
        Assert.Equal(0, extra.Flags & NetifExtraFlags.More);
        Assert.Equal(mss, extra.GsoSize);
        Assert.Equal(NetifGsoType.TcpV4, extra.GsoType);
        Assert.Equal((0, 0), (extra.GsoPad, extra.GsoFeatures));
    }

    [Fact]
    public void rxpkt2rsp_2slots()
    {
        const uint start = 15;
        using var ring = new RxTestRing(start);
        ring.Post((17, 24), (37, 34));
        var guest = new GuestPages(Domid);
        guest.Grant(24);
        guest.Grant(34);
        using var frame = new RxTestFrame(PageSize + 100);

        int responses = SendOne(ring, guest, frame.Frame());

        Assert.Equal(2, responses);
        Assert.Equal(start + 2, ring.Back.ResponseProducer);
        NetifRxResponse first = ring.Response(start);
        Assert.Equal(17, first.Id);
        Assert.Equal(0, first.Offset);
        Assert.Equal((ushort)NetRxFlags.MoreData, first.Flags);
        Assert.Equal(PageSize, first.Status);
        NetifRxResponse second = ring.Response(start + 1);
        Assert.Equal(37, second.Id);
        Assert.Equal(0, second.Offset);
        Assert.Equal(0, second.Flags);
        Assert.Equal(100, second.Status);
        Assert.Equal(frame.Bytes[PageSize..].ToArray(), guest.Page(34)[..100]);
    }

    [Fact]
    public void rxpkt2rsp_2short()
    {
        // Two copies into one slot: here because the frame straddles a local page boundary.
        const uint start = 14;
        using var ring = new RxTestRing(start);
        ring.Post((47, 54));
        var guest = new GuestPages(Domid);
        guest.Grant(54);
        using var frame = new RxTestFrame(Mhlen - 5 + Mhlen - 15, pageOffset: PageSize - (Mhlen - 5));

        RxPacket packet = PlanAndCopy(ring, guest, frame.Frame(), out GrantCopySegment[] batch, out int used);
        int responses = RxResponder.Respond(packet, batch.AsSpan(0, used), ring.Back);

        Assert.Equal(2, used);
        Assert.Equal(1, responses);
        NetifRxResponse rsp = ring.Response(start);
        Assert.Equal(47, rsp.Id);
        Assert.Equal(Mhlen - 5 + Mhlen - 15, rsp.Status);
        Assert.Equal(0, rsp.Offset);
        Assert.Equal(0, rsp.Flags & (ushort)(NetRxFlags.MoreData | NetRxFlags.ExtraInfo));
        Assert.Equal(frame.Bytes.ToArray(), guest.Page(54)[..frame.Length]);
    }

    [Fact]
    public void rxpkt2rsp_copyerror()
    {
        // Every consumed request is answered (ERROR, its own id, the chain intact); the request posted
        // after the packet (the canary) is neither consumed nor touched.
        const uint start = 2;
        const ushort canary = 6859;
        using var ring = new RxTestRing(start);
        ring.Post((7, 42), (8, 43), (9, 44), (10, 45), (canary, canary));
        var guest = new GuestPages(Domid);
        for (uint gref = 42; gref <= 45; gref++)
            guest.Grant(gref);
        using var frame = new RxTestFrame(7 * Mclbytes);

        RxPacket packet = PlanAndCopy(ring, guest, frame.Frame(checksum: FrameChecksum.Blank), out GrantCopySegment[] batch, out int used);
        batch[2].Status = GrantStatus.GeneralError;
        int responses = RxResponder.Respond(packet, batch.AsSpan(0, used), ring.Back);

        Assert.Equal(4, responses);
        Assert.Equal((start + 4, start + 4), (ring.Back.RequestConsumer, ring.Back.ResponseProducer));
        for (uint i = 0; i < 4; i++)
        {
            NetifRxResponse rsp = ring.Response(start + i);
            Assert.Equal(7 + i, rsp.Id);
            Assert.Equal(NetifResponseStatus.Error, rsp.Status);
            Assert.Equal(i < 3 ? (ushort)NetRxFlags.MoreData : (ushort)0, rsp.Flags);
        }
        NetifRxRequest untouched = ring.Back.CopyRequest(start + 4);
        Assert.Equal((canary, (uint)canary), (untouched.Id, untouched.Gref));
    }

    internal static RxPacket PlanAndCopy(RxTestRing ring, GuestPages guest, in RxFrame frame,
        out GrantCopySegment[] batch, out int used, ushort headroom = 0)
    {
        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame, ring.Back, ring.Back.ReadRequestProducer(), out RxPacket packet, headroom));
        batch = new GrantCopySegment[64];
        used = 0;
        Assert.True(RxCopyPlanner.TryPlan(frame, ref packet, ring.Back, Domid, batch, ref used));
        guest.Copy(batch.AsSpan(0, used));
        return packet;
    }

    internal static int SendOne(RxTestRing ring, GuestPages guest, in RxFrame frame, ushort headroom = 0)
    {
        RxPacket packet = PlanAndCopy(ring, guest, frame, out GrantCopySegment[] batch, out int used, headroom);
        int responses = RxResponder.Respond(packet, batch.AsSpan(0, used), ring.Back);
        ring.Back.PushResponsesAndCheckNotify();
        return responses;
    }
}
