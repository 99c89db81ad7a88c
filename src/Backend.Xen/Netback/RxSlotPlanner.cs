using Backend.Xen.Abi;
using Backend.Xen.Offload;
using Backend.Xen.Rings;

namespace Backend.Xen.Netback;

/// <summary>
/// Decides which rx requests a frame consumes (FreeBSD's xnb_mbufc2pkt): the frontend posts requests
/// that each grant one whole page (rx-copy, as Linux netfront), so data fills pages from the frontend's
/// XDP headroom (0 unless it set <c>xdp-headroom</c>) to the page's end, and the extras take slots right
/// after the first: a GSO frame's GSO extra, then a hashed frame's hash extra, then, with a headroom, the
/// XDP extra (as Linux's xenvif_rx, in the order of their types; decisions 78 and 82). Pure: it reads and writes nothing on the ring.
/// </summary>
/// <example>
/// One RX ring drain, many frames, one grant-copy hypercall, one push:
/// <code>
/// uint reqProd = ring.ReadRequestProducer();
/// if (ring.RequestProducerOverflow(reqProd)) { /* fatal: disable the vif */ }
/// int used = 0, n = 0;
/// while (queue has a frame) {
///     if (RxSlotPlanner.Plan(frame, ring, reqProd, out packets[n]) == RxPlanStatus.NoSpace) break; // keep it queued
///     (Invalid: drop and count it)
///     if (!RxCopyPlanner.TryPlan(frame, ref packets[n], ring, domid, batch, ref used)) break;   // flush first
///     n++;
/// }
/// copier.Copy(batch[..used]);
/// RxResponder.RespondAll(packets[..n], batch[..used], ring);
/// if (ring.PushResponsesAndCheckNotify()) notify the frontend;
/// // frames stay pinned until Copy returns; on NoSpace, ring.SetRequestEvent(reqProd + 1) and re-check.
/// </code>
/// </example>
public static class RxSlotPlanner
{
    /// <summary>Plans at the ring's next unconsumed request, with the requests the frontend has posted.</summary>
    /// <param name="requestProducer">From <see cref="BackRing{TRequest,TResponse}.ReadRequestProducer"/>. The
    /// caller checks it with <see cref="BackRing{TRequest,TResponse}.RequestProducerOverflow"/> and disables
    /// the vif when it overflows; should it not, an impossible req_prod (ahead by more than the ring, or
    /// behind req_cons) still plans nothing rather than walking over stale slots.</param>
    /// <param name="headroom">The frontend's <c>xdp-headroom</c> (bounded by <see cref="NetifConstants.MaxXdpHeadroom"/> when read).</param>
    public static RxPlanStatus Plan(in RxFrame frame, BackRing<NetifRxRequest, NetifRxResponse> ring, uint requestProducer,
        out RxPacket packet, ushort headroom = 0)
    {
        uint available = ring.RequestProducerOverflow(requestProducer) ? 0 : ring.UnconsumedRequests(requestProducer);
        return Plan(frame, ring.RequestConsumer, available, out packet, headroom);
    }

    /// <param name="start">Ring index of the first free request.</param>
    /// <param name="available">Posted requests not yet consumed, from <paramref name="start"/> on.</param>
    /// <param name="headroom">
    /// The frontend's <c>xdp-headroom</c>: every data slot carries the page after it. A frame that would
    /// need more data slots than a frontend takes (<see cref="RxPacket.MaxDataSlots"/>), as every frame
    /// does under a headroom of a page or more, is <see cref="RxPlanStatus.Invalid"/>: dropped and counted,
    /// never sent in pieces netfront refuses, nor waited for.
    /// </param>
    public static RxPlanStatus Plan(in RxFrame frame, uint start, uint available, out RxPacket packet, ushort headroom = 0)
    {
        packet = default;
        if (frame.Length <= 0 || frame.Length > RxPacket.MaxFrameLength || frame.Address == 0)
            return RxPlanStatus.Invalid;
        if (frame.GsoType is not (NetifGsoType.None or NetifGsoType.TcpV4 or NetifGsoType.TcpV6))
            return RxPlanStatus.Invalid;
        if (frame.IsGso && frame.GsoSize == 0)
            return RxPlanStatus.Invalid;
        if (frame.Checksum is not (FrameChecksum.None or FrameChecksum.Blank or FrameChecksum.Validated))
            return RxPlanStatus.Invalid;

        int room = NetifConstants.PageSize - headroom;
        if (room <= 0 || frame.Length > RxPacket.MaxDataSlots * room)
            return RxPlanStatus.Invalid;
        int dataSlots = (frame.Length + room - 1) / room;
        bool xdp = headroom != 0;
        int slots = dataSlots + (frame.IsGso ? 1 : 0) + (frame.HasHash ? 1 : 0) + (xdp ? 1 : 0);
        if ((uint)slots > available)
            return RxPlanStatus.NoSpace;

        var flags = NetRxFlags.None;
        if (dataSlots > 1)
            flags |= NetRxFlags.MoreData;
        if (frame.IsGso || frame.HasHash || xdp)
            flags |= NetRxFlags.ExtraInfo;
        // A GSO frame's checksums are by nature to be filled per segment: Linux only ever has GSO on a
        // CHECKSUM_PARTIAL skb, so xenvif_rx flags it csum_blank whatever the caller said.
        if (frame.Checksum == FrameChecksum.Blank || frame.IsGso)
            flags |= NetRxFlags.CsumBlank | NetRxFlags.DataValidated;
        else if (frame.Checksum == FrameChecksum.Validated)
            flags |= NetRxFlags.DataValidated;

        packet = new RxPacket
        {
            Start = start,
            DataSlots = dataSlots,
            HasExtra = frame.IsGso,
            HasHashExtra = frame.HasHash,
            HasXdpExtra = xdp,
            Headroom = headroom,
            Size = frame.Length,
            Flags = flags,
            GsoType = frame.GsoType,
            GsoSize = frame.IsGso ? frame.GsoSize : (ushort)0,
            HashValue = frame.HasHash ? frame.Hash : 0,
            HashType = frame.HasHash ? frame.HashType : (byte)0,
        };
        return RxPlanStatus.Ok;
    }
}
