using Backend.Xen.Abi;
using Backend.Xen.Rings;

namespace Backend.Xen.Netback;

/// <summary>
/// Writes a TX packet's responses (FreeBSD's xnb_txpkt2rsp, Linux's make_tx_response): in ring order at
/// rsp_prod_pvt, one per data slot with the request's id, NULL for every extra. Pushing them (and the
/// notification) is the caller's, once per batch. Packets are answered in the order they were parsed,
/// including those answered without a copy while others wait for theirs.
/// </summary>
public static class TxResponder
{
    /// <summary>Answers every slot of <paramref name="packet"/>.</summary>
    /// <param name="slots">The scratch span <see cref="TxPacketParser.Parse"/> filled for this packet.</param>
    /// <param name="status">NETIF_RSP_OKAY or NETIF_RSP_ERROR for the data slots.</param>
    public static void Respond(
        BackRing<NetifTxRequest, NetifTxResponse> ring,
        in TxPacket packet,
        ReadOnlySpan<NetifTxRequest> slots,
        short status)
    {
        ArgumentNullException.ThrowIfNull(ring);
        if (packet.RingSlots == 0)
            throw new ArgumentException($"a {packet.Outcome} outcome has no slot to answer", nameof(packet));
        if (slots.Length < packet.DataSlots)
            throw new ArgumentException("the scratch span does not hold the packet's data slots", nameof(slots));

        // Responses answer requests one for one in ring order, so a packet's first response goes at its
        // first request's index; anything else means the caller answered packets out of order.
        var rspProd = ring.ResponseProducer;
        if (rspProd != packet.Start)
            throw new InvalidOperationException($"responses must follow ring order: rsp_prod_pvt is {rspProd}, the packet starts at {packet.Start}");
        unchecked
        {
            ring.WriteResponse(rspProd++, new NetifTxResponse { Id = slots[0].Id, Status = status });
            for (var i = 0; i < packet.ExtraCount; i++)
                ring.WriteResponse(rspProd++, new NetifTxResponse { Status = NetifResponseStatus.Null });
            for (var i = 1; i < packet.DataSlots; i++)
                ring.WriteResponse(rspProd++, new NetifTxResponse { Id = slots[i].Id, Status = status });
        }
        ring.ResponseProducer = rspProd;
    }

    /// <summary>The status the data slots of a parsed packet get before any copy: ERROR for an invalid packet.</summary>
    public static short StatusOf(in TxPacket packet) =>
        packet.Outcome == TxOutcome.Error ? NetifResponseStatus.Error : NetifResponseStatus.Okay;
}
