using Backend.Xen.Abi;
using Backend.Xen.Grants;

namespace Backend.Xen.Netback;

/// <summary>
/// Plans the grant copies that bring a TX packet's data into local memory (FreeBSD's xnb_txpkt2gnttab)
/// and reads their outcome (xnb_update_mbufc). One segment per non-empty data slot: the source never
/// crosses its page (the parser made sure) and the local side may, as gntdev and SIMXEN split it.
/// </summary>
public static class TxCopyPlanner
{
    /// <summary>The most segments one valid packet needs; a batch at least this long always takes a packet.</summary>
    public const int MaxSegmentsPerPacket = TxPacketParser.MaxSlots;

    /// <summary>Segments <paramref name="packet"/> needs: its data slots that carry bytes.</summary>
    public static int SegmentCount(in TxPacket packet, ReadOnlySpan<NetifTxRequest> slots)
    {
        if (packet.Outcome != TxOutcome.Packet)
            return 0;
        var count = 1;
        for (var i = 1; i < packet.DataSlots; i++)
        {
            if (slots[i].Size != 0)
                count++;
        }
        return count;
    }

    /// <summary>
    /// Fills <paramref name="batch"/> with the packet's copies into <paramref name="destination"/>, in frame
    /// order. Returns false, writing nothing, when they do not fit in <paramref name="batch"/>: the caller
    /// flushes its batch and plans again.
    /// </summary>
    /// <param name="slots">The scratch span <see cref="TxPacketParser.Parse"/> filled for this packet.</param>
    /// <param name="frontendDomId">The frontend's domain, owner of the grant references.</param>
    /// <param name="destination">Local memory (pinned or native) of at least <paramref name="destinationLength"/> bytes.</param>
    /// <param name="batch">What is left of the caller's batch.</param>
    /// <param name="segments">Segments written.</param>
    public static bool TryPlan(
        in TxPacket packet,
        ReadOnlySpan<NetifTxRequest> slots,
        ushort frontendDomId,
        nint destination,
        int destinationLength,
        Span<GrantCopySegment> batch,
        out int segments)
    {
        if (packet.Outcome != TxOutcome.Packet)
            throw new ArgumentException($"a {packet.Outcome} outcome carries no data to copy", nameof(packet));
        if (slots.Length < packet.DataSlots)
            throw new ArgumentException("the scratch span does not hold the packet's data slots", nameof(slots));
        if (destination == 0 || destinationLength < packet.TotalLength)
            throw new ArgumentException($"the destination must hold {packet.TotalLength} bytes", nameof(destinationLength));

        segments = SegmentCount(packet, slots);
        if (segments > batch.Length)
        {
            segments = 0;
            return false;
        }

        var first = slots[0];
        batch[0] = Segment(first.Gref, frontendDomId, first.Offset, destination, (ushort)packet.FirstLength);
        var position = packet.FirstLength;
        var n = 1;
        for (var i = 1; i < packet.DataSlots; i++)
        {
            var slot = slots[i];
            if (slot.Size == 0)
                continue;
            batch[n++] = Segment(slot.Gref, frontendDomId, slot.Offset, destination + position, slot.Size);
            position += slot.Size;
        }
        return true;
    }

    /// <summary>
    /// After the copy: true when every segment of one packet copied. One failure fails the whole packet:
    /// the frame is dropped and all its data slots are answered ERROR (Linux's xenvif_tx_check_gop).
    /// </summary>
    public static bool Succeeded(ReadOnlySpan<GrantCopySegment> packetSegments, out short firstFailure)
    {
        foreach (ref readonly var segment in packetSegments)
        {
            if (segment.Status != GrantStatus.Okay)
            {
                firstFailure = segment.Status;
                return false;
            }
        }
        firstFailure = GrantStatus.Okay;
        return true;
    }

    private static GrantCopySegment Segment(uint gref, ushort domid, ushort offset, nint local, ushort length) => new()
    {
        Source = GrantCopyPointer.Foreign(gref, domid, offset),
        Dest = GrantCopyPointer.Local(local),
        Length = length,
        Flags = GrantCopySegment.SourceGref,
        // A copier that never ran must not look like success.
        Status = GrantStatus.GeneralError,
    };
}
