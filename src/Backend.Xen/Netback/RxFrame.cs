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
        FrameChecksum checksum = FrameChecksum.None, bool hasHash = false, uint hash = 0, byte hashType = 0)
    {
        Address = address;
        Length = length;
        GsoType = gsoType;
        GsoSize = gsoSize;
        Checksum = checksum;
        HasHash = hasHash;
        Hash = hash;
        HashType = hashType;
    }

    public nint Address { get; }
    public int Length { get; }
    /// <summary><see cref="NetifGsoType"/>: None, TcpV4 or TcpV6.</summary>
    public byte GsoType { get; }
    /// <summary>The MSS the frontend's stack segments to; non-zero for a GSO frame.</summary>
    public ushort GsoSize { get; }
    public FrameChecksum Checksum { get; }
    /// <summary>The frontend enabled hashing over its control ring and the frame's flow has a hash: it gets a hash extra.</summary>
    public bool HasHash { get; }
    /// <summary>The Toeplitz hash of the frame's flow (<see cref="Ctrl.VifHashConfig.TryHashFrame"/>).</summary>
    public uint Hash { get; }
    /// <summary>The _XEN_NETIF_CTRL_HASH_TYPE_* number the hash was calculated with.</summary>
    public byte HashType { get; }

    public bool IsGso => GsoType != NetifGsoType.None;
}
