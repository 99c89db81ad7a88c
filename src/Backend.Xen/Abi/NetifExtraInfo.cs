using System.Runtime.InteropServices;

namespace Backend.Xen.Abi;

/// <summary>
/// <c>struct netif_extra_info</c> (xen/io/netif.h), 8 bytes: a type, flags and a 6-byte union
/// (gso / mcast / hash / xdp). The union members overlap exactly as in C.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct NetifExtraInfo
{
    /// <summary><see cref="NetifExtraType"/>.</summary>
    [FieldOffset(0)] public byte Type;
    /// <summary><see cref="NetifExtraFlags"/>.</summary>
    [FieldOffset(1)] public byte Flags;

    // u.gso
    [FieldOffset(2)] public ushort GsoSize;
    /// <summary><see cref="NetifGsoType"/>.</summary>
    [FieldOffset(4)] public byte GsoType;
    [FieldOffset(5)] public byte GsoPad;
    [FieldOffset(6)] public ushort GsoFeatures;

    // u.mcast: addr[6] at offset 2, read as bytes through MemoryMarshal when needed.

    // u.hash
    [FieldOffset(2)] public byte HashType;
    [FieldOffset(3)] public byte HashAlgorithm;
    /// <summary>u.hash.value[4], little-endian as the frontend reads it.</summary>
    [FieldOffset(4)] public uint HashValue;

    // u.xdp: struct { uint16_t headroom; uint16_t pad[2]; } (not in Xen 4.17's netif.h; see NetifExtraType.Xdp).
    [FieldOffset(2)] public ushort XdpHeadroom;
    [FieldOffset(4)] public ushort XdpPad0;
    [FieldOffset(6)] public ushort XdpPad1;
}
