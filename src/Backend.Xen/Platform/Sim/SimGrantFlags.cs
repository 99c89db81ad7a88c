namespace Backend.Xen.Platform.Sim;

/// <summary>The GTF_* bits of a v1 grant entry's <c>flags</c> (xen/grant_table.h).</summary>
public static class SimGrantFlags
{
    public const ushort GTF_invalid = 0;
    public const ushort GTF_permit_access = 1;
    public const ushort GTF_type_mask = 3;
    public const ushort GTF_readonly = 4;
    public const ushort GTF_reading = 8;
    public const ushort GTF_writing = 16;
}
