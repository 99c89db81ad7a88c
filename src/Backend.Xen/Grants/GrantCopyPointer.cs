using System.Runtime.InteropServices;

namespace Backend.Xen.Grants;

/// <summary>
/// One side of a grant copy, shaped as the union in Linux's <c>struct gntdev_grant_copy_segment</c>
/// (xen/gntdev.h): either a local virtual address, or a foreign (grant reference, offset, domain).
/// Which one it is lives in <see cref="GrantCopySegment.Flags"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct GrantCopyPointer
{
    /// <summary>Local memory: a pointer into pinned or native memory of this process.</summary>
    [FieldOffset(0)] public nint Virt;

    [FieldOffset(0)] public uint Ref;
    [FieldOffset(4)] public ushort Offset;
    [FieldOffset(6)] public ushort DomId;

    public static GrantCopyPointer Local(nint address) => new() { Virt = address };

    public static GrantCopyPointer Foreign(uint gref, ushort domid, ushort offset) =>
        new() { Ref = gref, DomId = domid, Offset = offset };
}
