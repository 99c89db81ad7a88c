using System.Runtime.InteropServices;

namespace Backend.Xen.Abi;

/// <summary>
/// The head of a shared ring page (xen/io/ring.h <c>struct *_sring</c>): four indices, then padding up
/// to byte 64 where the ring entries start.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = EntriesOffset)]
public struct SharedRingHeader
{
    public const int EntriesOffset = 64;

    [FieldOffset(0)] public uint ReqProd;
    [FieldOffset(4)] public uint ReqEvent;
    [FieldOffset(8)] public uint RspProd;
    [FieldOffset(12)] public uint RspEvent;
}
