using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Rings;

namespace Backend.Xen.Netback;

/// <summary>
/// Plans the grant copies of a frame into the pages its rx requests granted (FreeBSD's
/// xnb_rxpkt2gnttab), appending them to a batch the caller then hands to one
/// <see cref="IGrantCopier.Copy"/> for many frames. Each request is read from the ring once, here; this
/// is where requests are consumed (<c>req_cons</c> moves past the packet). No copy crosses a page on
/// either side: the destination is one granted page, and the local source is split at its own 4 KiB
/// boundaries (as Xen's gnttab_copy, whose sides are frame + offset).
/// </summary>
public static class RxCopyPlanner
{
    private const int PageSize = NetifConstants.PageSize;

    /// <summary>Segments <paramref name="packet"/> needs in a batch.</summary>
    public static int SegmentsFor(in RxFrame frame, in RxPacket packet)
    {
        if (!packet.IsValid)
            return 0;
        int segments = 0;
        for (int slot = 0; slot < packet.DataSlots; slot++)
            segments += SegmentsFor(frame.Address + slot * packet.SlotRoom, packet.DataSlotLength(slot));
        return segments;
    }

    /// <summary>
    /// Reads the packet's requests, appends its copies at <paramref name="batchCount"/> and moves the
    /// ring's request consumer to the packet's end. Returns false, having read and written nothing, when
    /// the batch has no room for all of this packet's copies: flush the batch (copy, respond) and retry.
    /// </summary>
    public static bool TryPlan(in RxFrame frame, ref RxPacket packet, BackRing<NetifRxRequest, NetifRxResponse> ring,
        ushort frontendDomid, Span<GrantCopySegment> batch, ref int batchCount)
    {
        if (!packet.IsValid)
        {
            packet.FirstSegment = batchCount;
            packet.SegmentCount = 0;
            return true;
        }
        if (ring.RequestConsumer != packet.Start)
            throw new InvalidOperationException(
                $"rx packet planned at ring index {packet.Start} but the ring's request consumer is at {ring.RequestConsumer}");
        int needed = SegmentsFor(frame, packet);
        if (batch.Length - batchCount < needed)
            return false;

        int segment = batchCount;
        for (int slot = 0; slot < packet.DataSlots; slot++)
        {
            // The single read of this request; gref and id are used as they are: a bad gref fails its
            // copy (answered with an error), an odd id only confuses the frontend that wrote it.
            NetifRxRequest request = ring.CopyRequest(packet.DataSlotIndex(slot));
            packet.RequestIds[slot] = request.Id;

            nint source = frame.Address + slot * packet.SlotRoom;
            int remaining = packet.DataSlotLength(slot);
            // Every data slot starts at the headroom, not only the first (Linux's xenvif_rx_data_slot).
            int offset = packet.Headroom;
            while (remaining > 0)
            {
                int toSourcePageEnd = PageSize - (int)(source & (PageSize - 1));
                int length = Math.Min(remaining, toSourcePageEnd);
                batch[segment++] = new GrantCopySegment
                {
                    Source = GrantCopyPointer.Local(source),
                    Dest = GrantCopyPointer.Foreign(request.Gref, frontendDomid, (ushort)offset),
                    Length = (ushort)length,
                    Flags = GrantCopySegment.DestGref,
                    // Until the copier reports, the copy has not happened: never mistake it for done.
                    Status = GrantStatus.GeneralError,
                };
                source += length;
                offset += length;
                remaining -= length;
            }
        }

        packet.FirstSegment = batchCount;
        packet.SegmentCount = segment - batchCount;
        batchCount = segment;
        ring.RequestConsumer = packet.End;
        return true;
    }

    private static int SegmentsFor(nint source, int length)
    {
        int firstPageRoom = PageSize - (int)(source & (PageSize - 1));
        return length <= firstPageRoom ? 1 : 2;
    }
}
