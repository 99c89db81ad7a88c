using System.Runtime.CompilerServices;
using Backend.Xen.Abi;
using Backend.Xen.Offload;
using Backend.Xen.Rings;

namespace Backend.Xen.Netback;

/// <summary>
/// Reads one TX packet from the ring (FreeBSD's xnb_ring2pkt, with the checks and their order from
/// Linux's xenvif_tx_build_gops, xenvif_get_extras and xenvif_count_requests as SIMXEN amends them).
/// Each slot is copied out of shared memory once and only the copy is looked at. Pure: it neither moves
/// req_cons nor writes the ring; the caller consumes <see cref="TxPacket.RingSlots"/> slots.
/// <para>
/// A ring actor's drain, per packet, after <c>reqProd = ring.ReadRequestProducer()</c>:
/// <see cref="TxOutcome.Packet"/>: <see cref="TxCopyPlanner.TryPlan"/> into the batch (run the batch
/// first when it returns false), req_cons += RingSlots, answer once the copy is done;
/// <see cref="TxOutcome.Error"/> and <see cref="TxOutcome.MulticastControl"/>: req_cons += RingSlots
/// and answer, after any packet parsed before it (answers follow ring order);
/// <see cref="TxOutcome.Partial"/>: <c>ring.SetRequestEvent(reqProd + 1)</c>, then re-read req_prod;
/// <see cref="TxOutcome.Empty"/>: <c>ring.FinalCheckForRequests()</c>;
/// <see cref="TxOutcome.Fatal"/>: disable the vif. Then one push (and notify) per drain.
/// </para>
/// </summary>
public static class TxPacketParser
{
    /// <summary>Data slots a valid packet may use: the first plus XEN_NETIF_NR_SLOTS_MIN (Linux's XEN_NETBK_LEGACY_SLOTS_MAX).</summary>
    public const int MaxSlots = 1 + NetifConstants.NrSlotsMin;

    /// <summary>The most data slots a packet can have short of fatal (20 and 21 are answered with errors).</summary>
    public const int ScratchSlots = 21;

    /// <summary>Later slots (after the first) at which a packet becomes fatal: Linux's fatal_skb_slots (20), i.e. 22 slots in all.</summary>
    private const int FatalLaterSlots = ScratchSlots - 1;

    /// <summary>Later slots at which a packet is dropped with errors: XEN_NETBK_LEGACY_SLOTS_MAX (18), i.e. 20 slots in all.</summary>
    private const int DropLaterSlots = NetifConstants.NrSlotsMin;

    /// <summary>
    /// Parses the packet at <c>ring.RequestConsumer</c>.
    /// </summary>
    /// <param name="ring">The TX back ring.</param>
    /// <param name="reqProd">req_prod as read once by <see cref="BackRing{TRequest,TResponse}.ReadRequestProducer"/>.</param>
    /// <param name="slots">Scratch of at least <see cref="ScratchSlots"/> entries: receives the copies of the packet's data slots.</param>
    public static TxPacket Parse(BackRing<NetifTxRequest, NetifTxResponse> ring, uint reqProd, Span<NetifTxRequest> slots)
    {
        ArgumentNullException.ThrowIfNull(ring);
        if (slots.Length < ScratchSlots)
            throw new ArgumentException($"the scratch span must hold {ScratchSlots} requests", nameof(slots));

        var start = ring.RequestConsumer;
        if (ring.RequestProducerOverflow(reqProd))
            return TxPacket.Fatal(start, TxFault.ImpossibleRequestProducer);

        // Clamped by ring.h to the slots the backend owns, so that no req_prod leads past them.
        var available = (int)ring.UnconsumedRequests(reqProd);
        if (available == 0)
            return TxPacket.Empty(start);

        var first = ring.CopyRequest(start);
        slots[0] = first;
        var used = 1;

        NetifExtraInfo gso = default, multicastAdd = default, multicastDel = default, hash = default;
        var extraCount = 0;
        if (((NetTxFlags)first.Flags & NetTxFlags.ExtraInfo) != 0)
        {
            byte more;
            do
            {
                if (used >= available)
                    return TxPacket.Partial(start);
                var slot = ring.CopyRequest(unchecked(start + (uint)used));
                used++;
                extraCount++;
                var extra = Unsafe.As<NetifTxRequest, NetifExtraInfo>(ref slot);
                switch (extra.Type)
                {
                    case NetifExtraType.Gso: gso = extra; break;
                    case NetifExtraType.MulticastAdd: multicastAdd = extra; break;
                    case NetifExtraType.MulticastDel: multicastDel = extra; break;
                    case NetifExtraType.Hash: hash = extra; break;
                    // Linux's xenvif_get_extras takes any type below XEN_NETIF_EXTRA_TYPE_MAX and reads no XDP extra on TX.
                    case NetifExtraType.Xdp: break;
                    default: return TxPacket.Fatal(start, TxFault.InvalidExtraType);
                }
                more = (byte)(extra.Flags & NetifExtraFlags.More);
            }
            while (more != 0);
        }

        if (multicastAdd.Type != 0 || multicastDel.Type != 0)
        {
            // Linux answers such a request on its own, before looking at any data slot after it.
            return new TxPacket(TxOutcome.MulticastControl, TxFault.None, TxError.None, start, extraCount, 1,
                first.Size, first.Size, (NetTxFlags)first.Flags, gso, multicastAdd, multicastDel, hash);
        }

        // xenvif_count_requests: walk the later slots, each checked as it comes.
        var remaining = (int)first.Size;
        var laterSlots = 0;
        var error = TxError.None;
        var moreData = ((NetTxFlags)first.Flags & NetTxFlags.MoreData) != 0;
        while (moreData)
        {
            if (used >= available)
                return TxPacket.Partial(start);
            if (laterSlots >= FatalLaterSlots)
                return TxPacket.Fatal(start, TxFault.TooManySlots);
            if (error == TxError.None && laterSlots >= DropLaterSlots)
                error = TxError.TooManySlots;

            var slot = ring.CopyRequest(unchecked(start + (uint)used));
            used++;
            slots[1 + laterSlots] = slot;

            // A frame of 64 KiB or more overflows the first slot's 16-bit size; buggy frontends do
            // that, so it is an error, not fatal.
            if (error == TxError.None && slot.Size > remaining)
                error = TxError.SlotLargerThanRemaining;
            remaining -= slot.Size;
            laterSlots++;

            if (slot.Offset + slot.Size > NetifConstants.PageSize)
                return TxPacket.Fatal(start, TxFault.SlotCrossesPage);
            moreData = ((NetTxFlags)slot.Flags & NetTxFlags.MoreData) != 0;
        }

        var dataSlots = 1 + laterSlots;
        if (error == TxError.None && remaining < NetifConstants.EthernetHeaderLength)
            error = TxError.FirstSlotTooSmall;
        if (error != TxError.None)
        {
            return new TxPacket(TxOutcome.Error, TxFault.None, error, start, extraCount, dataSlots,
                first.Size, Math.Max(remaining, 0), (NetTxFlags)first.Flags, gso, multicastAdd, multicastDel, hash);
        }

        // The first slot carries its own share only, so that is what must stay inside its page.
        if (first.Offset + remaining > NetifConstants.PageSize)
            return TxPacket.Fatal(start, TxFault.SlotCrossesPage);

        // xenvif_set_skb_gso, on the last GSO extra only.
        if (gso.Type == NetifExtraType.Gso)
        {
            if (gso.GsoSize == 0)
                return TxPacket.Fatal(start, TxFault.GsoSizeZero);
            if (gso.GsoType is not (NetifGsoType.TcpV4 or NetifGsoType.TcpV6))
                return TxPacket.Fatal(start, TxFault.UnknownGsoType);
            // Beyond Linux, after its fatal checks: a frame that would be cut too finely is refused here,
            // at its sender's ring, before it costs a receiver anything (GsoLimits).
            if (gso.GsoSize < GsoLimits.MinSize)
                error = TxError.GsoSizeTooSmall;
            else if (GsoLimits.MostSegments(first.Size, gso.GsoSize) > GsoLimits.MaxSegments)
                error = TxError.GsoTooManySegments;
            if (error != TxError.None)
            {
                return new TxPacket(TxOutcome.Error, TxFault.None, error, start, extraCount, dataSlots,
                    first.Size, remaining, (NetTxFlags)first.Flags, gso, multicastAdd, multicastDel, hash);
            }
        }

        return new TxPacket(TxOutcome.Packet, TxFault.None, TxError.None, start, extraCount, dataSlots,
            first.Size, remaining, (NetTxFlags)first.Flags, gso, multicastAdd, multicastDel, hash);
    }
}
