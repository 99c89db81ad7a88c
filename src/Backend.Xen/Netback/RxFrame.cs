using Backend.Xen.Abi;
using Backend.Xen.Offload;

namespace Backend.Xen.Netback;

/// <summary>
/// One Ethernet frame bound for a frontend (host → guest), in local memory that stays valid and pinned
/// until its grant copies have run: <see cref="Address"/> is the source of every copy.
/// </summary>
public readonly struct RxFrame
{
    public RxFrame(nint address, int length, byte gsoType = NetifGsoType.None, ushort gsoSize = 0,
        FrameChecksum checksum = FrameChecksum.None)
    {
        Address = address;
        Length = length;
        GsoType = gsoType;
        GsoSize = gsoSize;
        Checksum = checksum;
    }

    public nint Address { get; }
    public int Length { get; }
    /// <summary><see cref="NetifGsoType"/>: None, TcpV4 or TcpV6.</summary>
    public byte GsoType { get; }
    /// <summary>The MSS the frontend's stack segments to; non-zero for a GSO frame.</summary>
    public ushort GsoSize { get; }
    public FrameChecksum Checksum { get; }

    public bool IsGso => GsoType != NetifGsoType.None;
}
