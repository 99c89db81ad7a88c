using System.Runtime.InteropServices;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// <c>struct virtio_net_hdr</c> (linux/virtio_net.h, 10 bytes): what precedes every frame read from or
/// written to a TAP opened with IFF_VNET_HDR. It says whether the frame's checksum is still to be filled
/// in and whether it is a GSO frame to be segmented, which map one to one onto netif's
/// NETTXF_csum_blank / NETRXF_data_validated and the GSO extra.
/// </summary>
/// <remarks>
/// The fields are in the host's byte order (the legacy virtio layout the tun driver uses unless told
/// TUNSETVNETLE/BE), which on every host Xen runs on is little-endian.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
public struct VirtioNetHeader
{
    public const int Size = 10;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at <see cref="CsumStart"/> + <see cref="CsumOffset"/> is partial.</summary>
    public const byte FlagNeedsCsum = 1;
    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the checksum was verified.</summary>
    public const byte FlagDataValid = 2;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoTcpV6 = 4;
    /// <summary>VIRTIO_NET_HDR_GSO_ECN, or-ed into <see cref="GsoType"/>.</summary>
    public const byte GsoEcn = 0x80;

    public byte Flags;
    public byte GsoType;
    /// <summary>Ethernet + IP + TCP header length of a GSO frame.</summary>
    public ushort HdrLen;
    /// <summary>Payload bytes per segment (the MSS) of a GSO frame.</summary>
    public ushort GsoSize;
    public ushort CsumStart;
    public ushort CsumOffset;
}
