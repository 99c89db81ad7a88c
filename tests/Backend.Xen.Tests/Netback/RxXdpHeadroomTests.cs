using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Offload;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// The frontend's XDP headroom on RX, as Linux's rx.c (decision 78): every data slot starts at the
/// headroom and carries the rest of its page, its status is where the data ends, and an XDP extra (after
/// the GSO extra, if any) says how much headroom was left; the slots a frame needs count both.
/// </summary>
public sealed class RxXdpHeadroomTests
{
    private const int PageSize = NetifConstants.PageSize;
    private const ushort Headroom = 256;
    private const ushort Domid = RxTestRing.FrontendDomid;

    private static GuestPages GrantAll(int count)
    {
        var guest = new GuestPages(Domid);
        for (uint n = 0; n < count; n++)
            guest.Grant(1000 + n);
        return guest;
    }

    [Fact]
    public void A_frame_of_one_slot_leaves_the_headroom_and_is_followed_by_the_xdp_extra()
    {
        using var ring = new RxTestRing(10);
        ring.PostMany(2);
        var guest = GrantAll(2);
        using var frame = new RxTestFrame(1514);

        int responses = RxFreeBsdPortTests.SendOne(ring, guest, frame.Frame(checksum: FrameChecksum.Validated), Headroom);

        Assert.Equal(2, responses);
        NetifRxResponse first = ring.Response(10);
        Assert.Equal((100, 0, Headroom + 1514), (first.Id, first.Offset, first.Status));
        Assert.Equal((ushort)(NetRxFlags.ExtraInfo | NetRxFlags.DataValidated), first.Flags);
        NetifExtraInfo extra = ring.Extra(11);
        Assert.Equal((NetifExtraType.Xdp, (byte)0, Headroom, (ushort)0, (ushort)0),
            (extra.Type, extra.Flags, extra.XdpHeadroom, extra.XdpPad0, extra.XdpPad1));
        Assert.Equal(new byte[Headroom], guest.Page(1000)[..Headroom]);
        Assert.Equal(frame.Bytes.ToArray(), guest.Page(1000)[Headroom..(Headroom + 1514)]);
        Assert.Equal(12u, ring.Back.RequestConsumer);
    }

    [Fact]
    public void The_largest_gso_frame_takes_18_data_slots_each_after_the_headroom_and_both_extras_in_order()
    {
        const int length = 0xFFFF + 14;
        const int room = PageSize - Headroom;
        using var ring = new RxTestRing(uint.MaxValue - 3);
        ring.PostMany(20);
        var guest = GrantAll(20);
        using var frame = new RxTestFrame(length, pageOffset: 6);
        const uint start = uint.MaxValue - 3;

        int responses = RxFreeBsdPortTests.SendOne(ring, guest, frame.Frame(NetifGsoType.TcpV4, 1448), Headroom);

        Assert.Equal(20, responses);
        NetifExtraInfo gso = ring.Extra(start + 1);
        Assert.Equal((NetifExtraType.Gso, NetifExtraFlags.More, (ushort)1448), (gso.Type, gso.Flags, gso.GsoSize));
        NetifExtraInfo xdp = ring.Extra(start + 2);
        Assert.Equal((NetifExtraType.Xdp, (byte)0, Headroom), (xdp.Type, xdp.Flags, xdp.XdpHeadroom));
        var received = new List<byte>(length);
        for (var slot = 0u; slot < 18; slot++)
        {
            uint index = slot == 0 ? start : start + 2 + slot;
            NetifRxResponse rsp = ring.Response(index);
            uint gref = 1000 + (slot == 0 ? 0 : slot + 2);
            Assert.Equal(0, rsp.Offset);
            Assert.Equal(slot < 17, (rsp.Flags & (ushort)NetRxFlags.MoreData) != 0);
            Assert.Equal(slot == 17 ? Headroom + length - 17 * room : PageSize, rsp.Status);
            Assert.Equal(new byte[Headroom], guest.Page(gref)[..Headroom]);
            received.AddRange(guest.Page(gref)[Headroom..rsp.Status]);
        }
        Assert.Equal(frame.Bytes.ToArray(), received.ToArray());
        Assert.Equal(unchecked(start + 20), ring.Back.ResponseProducer);
    }

    [Fact]
    public void The_xdp_extra_and_the_smaller_room_count_in_the_slots_needed()
    {
        using var ring = new RxTestRing(0);
        uint reqProd = ring.PostMany(2);
        using var frame = new RxTestFrame(PageSize - Headroom + 1);

        // Without a headroom, 1 data slot; with it, 2 data slots and the extra: 3 > 2 posted.
        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(frame.Frame(), ring.Back, reqProd, out RxPacket plain));
        Assert.Equal(1, plain.Slots);
        Assert.Equal(RxPlanStatus.NoSpace, RxSlotPlanner.Plan(frame.Frame(), ring.Back, reqProd, out _, Headroom));
        Assert.Equal(0u, ring.Back.RequestConsumer);
    }

    [Theory]
    [InlineData(PageSize, 60)]                    // no room at all in a page
    [InlineData(NetifConstants.MaxXdpHeadroom, 60)]
    [InlineData(4000, 18 * 96 + 1)]               // 19 data slots of 96 bytes: more than netfront takes
    public void A_frame_a_headroom_leaves_no_room_for_is_refused_not_waited_for(int headroom, int length)
    {
        using var ring = new RxTestRing(0);
        uint reqProd = ring.PostMany(64);
        using var frame = new RxTestFrame(length);

        Assert.Equal(RxPlanStatus.Invalid, RxSlotPlanner.Plan(frame.Frame(), ring.Back, reqProd, out RxPacket packet, (ushort)headroom));
        Assert.False(packet.IsValid);
    }

    [Fact]
    public void A_failed_copy_answers_every_data_slot_with_an_error_and_keeps_the_extra_in_its_slot()
    {
        using var ring = new RxTestRing(5);
        ring.PostMany(3);
        var guest = GrantAll(3);
        using var frame = new RxTestFrame(5000);

        RxPacket packet = RxFreeBsdPortTests.PlanAndCopy(ring, guest, frame.Frame(), out GrantCopySegment[] batch, out int used, Headroom);
        batch[0].Status = GrantStatus.GeneralError;
        Assert.Equal(3, RxResponder.Respond(packet, batch.AsSpan(0, used), ring.Back));

        Assert.Equal((NetifResponseStatus.Error, (ushort)(NetRxFlags.ExtraInfo | NetRxFlags.MoreData)), (ring.Response(5).Status, ring.Response(5).Flags));
        Assert.Equal(NetifExtraType.Xdp, ring.Extra(6).Type);
        Assert.Equal((102, NetifResponseStatus.Error), (ring.Response(7).Id, ring.Response(7).Status));
    }
}
