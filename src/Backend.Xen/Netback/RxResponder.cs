using System.Runtime.CompilerServices;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Rings;

namespace Backend.Xen.Netback;

/// <summary>
/// Writes the responses of packets whose copies have run (FreeBSD's xnb_rxpkt2rsp): each in the slot of
/// the request it answers, id echoed, offset 0, status = where the data ends in that slot (the headroom
/// plus its bytes, as Linux's xenvif_rx_data_slot); NETRXF_more_data on every data slot but the last; on
/// the first, NETRXF_extra_info when extras follow and the checksum flags; the GSO extra, the hash extra,
/// then the XDP extra (netif_extra_info, XEN_NETIF_EXTRA_FLAG_MORE on all but the last) each in its own slot. Responses are not pushed: the caller pushes
/// once per batch with <see cref="BackRing{TRequest,TResponse}.PushResponsesAndCheckNotify"/>.
/// </summary>
/// <remarks>
/// A packet with a failed copy: FreeBSD writes one ERROR response and consumes only the first request,
/// leaving the rest posted for the next packet. That cannot work here: the frames after it in the same
/// batch were planned into those slots, and every consumed request must get its response. So, as Linux
/// netback did (make_rx_response / netbk_add_frag_responses with the packet's status), every data slot
/// of the packet gets a NETIF_RSP_ERROR response with its id and the same more_data/extra_info chaining,
/// and the GSO extra keeps its slot; netfront (xennet_get_responses) then walks the whole chain,
/// recycles every buffer and counts one rx error. The checksum flags are dropped: there is no data.
/// </remarks>
public static class RxResponder
{
    /// <summary>
    /// Writes the responses of one packet and moves the ring's private response producer past it.
    /// Returns the number of responses written (0 for a refused frame's packet).
    /// </summary>
    public static int Respond(in RxPacket packet, ReadOnlySpan<GrantCopySegment> batch,
        BackRing<NetifRxRequest, NetifRxResponse> ring)
    {
        if (!packet.IsValid)
            return 0;
        if (ring.ResponseProducer != packet.Start)
            throw new InvalidOperationException(
                $"rx packet at ring index {packet.Start} answered with the response producer at {ring.ResponseProducer}");

        bool failed = false;
        foreach (ref readonly GrantCopySegment segment in batch.Slice(packet.FirstSegment, packet.SegmentCount))
        {
            if (segment.Status != GrantStatus.Okay)
            {
                failed = true;
                break;
            }
        }

        for (int slot = 0; slot < packet.DataSlots; slot++)
        {
            var flags = NetRxFlags.None;
            if (slot < packet.DataSlots - 1)
                flags |= NetRxFlags.MoreData;
            if (slot == 0)
            {
                NetRxFlags firstOnly = NetRxFlags.ExtraInfo | (failed ? 0 : NetRxFlags.CsumBlank | NetRxFlags.DataValidated);
                flags |= packet.Flags & firstOnly;
            }
            var response = new NetifRxResponse
            {
                Id = packet.RequestIds[slot],
                Offset = 0,
                Flags = (ushort)flags,
                Status = failed ? NetifResponseStatus.Error : (short)(packet.Headroom + packet.DataSlotLength(slot)),
            };
            ring.WriteResponse(packet.DataSlotIndex(slot), response);
        }

        uint extraSlot = packet.Start + 1;
        if (packet.HasExtra)
        {
            var extra = new NetifExtraInfo
            {
                Type = NetifExtraType.Gso,
                Flags = packet.HasHashExtra || packet.HasXdpExtra ? NetifExtraFlags.More : (byte)0,
                GsoSize = packet.GsoSize,
                GsoType = packet.GsoType,
                GsoPad = 0,
                GsoFeatures = 0,
            };
            ring.WriteResponse(extraSlot++, Unsafe.As<NetifExtraInfo, NetifRxResponse>(ref extra));
        }
        if (packet.HasHashExtra)
        {
            // As Linux's xenvif_rx_next_skb for a frame with a software hash: algorithm Toeplitz, the type
            // of the hash, its value as the u32 netif.h's value[4] holds (little-endian).
            var extra = new NetifExtraInfo
            {
                Type = NetifExtraType.Hash,
                Flags = packet.HasXdpExtra ? NetifExtraFlags.More : (byte)0,
                HashType = packet.HashType,
                HashAlgorithm = (byte)NetifCtrlStatus.HashAlgorithmToeplitz,
                HashValue = packet.HashValue,
            };
            ring.WriteResponse(extraSlot++, Unsafe.As<NetifExtraInfo, NetifRxResponse>(ref extra));
        }
        if (packet.HasXdpExtra)
        {
            // As Linux's xenvif_rx_next_skb: zeroed, the headroom, no flags (it is the last extra here).
            var extra = new NetifExtraInfo { Type = NetifExtraType.Xdp, Flags = 0, XdpHeadroom = packet.Headroom };
            ring.WriteResponse(extraSlot, Unsafe.As<NetifExtraInfo, NetifRxResponse>(ref extra));
        }

        ring.ResponseProducer = packet.End;
        return packet.Slots;
    }

    /// <summary>Answers a batch of packets in ring order; returns the responses written.</summary>
    public static int RespondAll(ReadOnlySpan<RxPacket> packets, ReadOnlySpan<GrantCopySegment> batch,
        BackRing<NetifRxRequest, NetifRxResponse> ring)
    {
        int responses = 0;
        foreach (ref readonly RxPacket packet in packets)
            responses += Respond(packet, batch, ring);
        return responses;
    }
}
