using System.Runtime.InteropServices;

namespace Backend.Xen.Grants;

/// <summary>
/// One grant-copy operation, byte for byte Linux's <c>struct gntdev_grant_copy_segment</c> (24 bytes), so
/// that the real platform passes a span of these straight to <c>IOCTL_GNTDEV_GRANT_COPY</c>. It carries
/// the same information as Xen's <c>struct gnttab_copy</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
public struct GrantCopySegment
{
    /// <summary>GNTCOPY_source_gref: <see cref="Source"/> is a grant reference.</summary>
    public const ushort SourceGref = 1;
    /// <summary>GNTCOPY_dest_gref: <see cref="Dest"/> is a grant reference.</summary>
    public const ushort DestGref = 2;

    public GrantCopyPointer Source;
    public GrantCopyPointer Dest;
    public ushort Length;
    public ushort Flags;
    /// <summary>A <see cref="GrantStatus"/> written by the copier.</summary>
    public short Status;
}
