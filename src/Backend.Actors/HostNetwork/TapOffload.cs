using System.Buffers.Binary;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Offload;
using Backend.Xen.Platform.Linux;

namespace Backend.Actors.HostNetwork;

/// <summary>
/// Carries a frame's offload state across a TAP: netif's checksum flags and GSO extra on one side, the
/// <see cref="VirtioNetHeader"/> on the other, as Linux netback carries it between a netif ring and an
/// skb. Both directions validate what they are given: a guest's frame may claim anything, and the host's
/// header is checked against the frame before we trust its offsets.
/// </summary>
public static class TapOffload
{
    private const int TcpChecksumOffset = 16;
    private const int UdpChecksumOffset = 6;

    /// <summary>
    /// The header to write in front of a guest's frame. A blank-checksum or GSO frame gets
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM with the transport checksum's place, and its checksum field set to the
    /// pseudo-header sum the stack expects there (recomputed, not trusted: Linux netback's
    /// <c>checksum_setup</c> does the same for a GSO frame without csum_blank). False when the frame's
    /// headers cannot carry the offload it claims (Linux netback drops such a frame too).
    /// </summary>
    public static bool TryToTap(PacketBuffer frame, out VirtioNetHeader header)
    {
        header = default;
        var gso = frame.GsoType;
        if (gso == NetifGsoType.None && !frame.ChecksumBlank)
        {
            if (frame.DataValidated)
                header.Flags = VirtioNetHeader.FlagDataValid;
            return true;
        }
        var bytes = frame.Frame;
        if (FrameLayout.TryParse(bytes, out var layout) != FrameParse.Ok || layout.IsFragment)
            return false;
        int checksumOffset;
        switch (layout.TransportProtocol)
        {
            case FrameLayout.ProtocolTcp when layout.TransportLength >= FrameLayout.TcpMinHeaderLength:
                checksumOffset = TcpChecksumOffset;
                break;
            case FrameLayout.ProtocolUdp when gso == NetifGsoType.None && layout.TransportLength >= FrameLayout.UdpHeaderLength:
                checksumOffset = UdpChecksumOffset;
                break;
            default:
                return false;
        }
        if (gso != NetifGsoType.None)
        {
            if ((gso == NetifGsoType.TcpV4) != (layout.IpVersion == 4) || gso is not (NetifGsoType.TcpV4 or NetifGsoType.TcpV6) || frame.GsoSize == 0)
                return false;
            var tcpHeader = (bytes[layout.TransportOffset + 12] >> 4) * 4;
            if (tcpHeader < FrameLayout.TcpMinHeaderLength || tcpHeader > layout.TransportLength)
                return false;
            header.GsoType = gso == NetifGsoType.TcpV4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6;
            header.GsoSize = frame.GsoSize;
            header.HdrLen = (ushort)(layout.TransportOffset + tcpHeader);
        }
        var ip = bytes.Slice(layout.NetworkOffset, layout.NetworkHeaderLength);
        var source = layout.IpVersion == 4 ? ip.Slice(12, 4) : ip.Slice(8, 16);
        var destination = layout.IpVersion == 4 ? ip.Slice(16, 4) : ip.Slice(24, 16);
        var sum = InternetChecksum.PseudoHeader(source, destination, layout.TransportProtocol, (uint)layout.TransportLength);
        // The partial sum is the folded pseudo-header sum, not complemented: the stack adds the data to it.
        InternetChecksum.Store(bytes.Slice(layout.TransportOffset + checksumOffset, 2), (ushort)~InternetChecksum.Finish(sum));
        header.Flags = VirtioNetHeader.FlagNeedsCsum;
        header.CsumStart = (ushort)layout.TransportOffset;
        header.CsumOffset = (ushort)checksumOffset;
        return true;
    }

    /// <summary>
    /// Sets a frame read from a TAP (already copied into <paramref name="frame"/>) up for the netif side.
    /// A partial checksum at the TCP/UDP place becomes csum_blank (the frontend, or the RX path for one
    /// that did not negotiate it, completes it); one anywhere else (a tunnel's inner header) is completed
    /// here, as Linux's <c>skb_checksum_help</c> would. False for a header that does not fit the frame or
    /// a GSO type netif cannot carry (we never offer the stack those).
    /// </summary>
    public static bool FromTap(in VirtioNetHeader header, PacketBuffer frame)
    {
        var bytes = frame.Frame;
        switch (header.GsoType & ~VirtioNetHeader.GsoEcn)
        {
            case VirtioNetHeader.GsoNone:
                break;
            case VirtioNetHeader.GsoTcpV4:
                frame.GsoType = NetifGsoType.TcpV4;
                break;
            case VirtioNetHeader.GsoTcpV6:
                frame.GsoType = NetifGsoType.TcpV6;
                break;
            default:
                return false;
        }
        if (frame.GsoType != NetifGsoType.None)
        {
            if (header.GsoSize == 0)
                return false;
            frame.GsoSize = header.GsoSize;
        }
        if ((header.Flags & VirtioNetHeader.FlagNeedsCsum) != 0)
        {
            int start = header.CsumStart, offset = header.CsumOffset;
            if (start + offset + 2 > bytes.Length)
                return false;
            if (IsTransportChecksum(bytes, start, offset))
            {
                frame.ChecksumBlank = true;
            }
            else
            {
                if (frame.GsoType != NetifGsoType.None)
                    return false; // netif's GSO is TCP's: its checksum is where the headers say
                var field = bytes.Slice(start + offset, 2);
                var checksum = InternetChecksum.Finish(InternetChecksum.Add(bytes[start..], 0));
                InternetChecksum.Store(field, checksum == 0 ? (ushort)0xFFFF : checksum);
                frame.DataValidated = true;
            }
        }
        else if (frame.GsoType != NetifGsoType.None)
        {
            return false; // a GSO frame without a partial checksum: the stack never makes one
        }
        if ((header.Flags & VirtioNetHeader.FlagDataValid) != 0)
            frame.DataValidated = true;
        return true;
    }

    /// <summary>Whether the partial checksum sits where netif's csum_blank implies it: TCP's or UDP's, after IP.</summary>
    private static bool IsTransportChecksum(ReadOnlySpan<byte> frame, int start, int offset)
    {
        if (FrameLayout.TryParse(frame, out var layout) != FrameParse.Ok || layout.IsFragment || start != layout.TransportOffset)
            return false;
        return layout.TransportProtocol switch
        {
            FrameLayout.ProtocolTcp => offset == TcpChecksumOffset && layout.TransportLength >= FrameLayout.TcpMinHeaderLength,
            FrameLayout.ProtocolUdp => offset == UdpChecksumOffset && layout.TransportLength >= FrameLayout.UdpHeaderLength
                && BinaryPrimitives.ReadUInt16BigEndian(frame[(start + 4)..]) == layout.TransportLength,
            _ => false,
        };
    }
}
