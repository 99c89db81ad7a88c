using Backend.Xen.Grants;

namespace Backend.Xen.Tests.Sim;

/// <summary>Builds grant copy segments so that a test reads like the copy it makes.</summary>
public static class GrantCopies
{
    public static GrantCopySegment FromGrant(ushort domid, uint gref, ushort offset, nint local, ushort length) => new()
    {
        Source = GrantCopyPointer.Foreign(gref, domid, offset),
        Dest = GrantCopyPointer.Local(local),
        Length = length,
        Flags = GrantCopySegment.SourceGref,
        Status = 99,
    };

    public static GrantCopySegment ToGrant(nint local, ushort domid, uint gref, ushort offset, ushort length) => new()
    {
        Source = GrantCopyPointer.Local(local),
        Dest = GrantCopyPointer.Foreign(gref, domid, offset),
        Length = length,
        Flags = GrantCopySegment.DestGref,
        Status = 99,
    };

    public static GrantCopySegment GrantToGrant(ushort sourceDomid, uint sourceRef, ushort sourceOffset, ushort destDomid, uint destRef, ushort destOffset, ushort length) => new()
    {
        Source = GrantCopyPointer.Foreign(sourceRef, sourceDomid, sourceOffset),
        Dest = GrantCopyPointer.Foreign(destRef, destDomid, destOffset),
        Length = length,
        Flags = GrantCopySegment.SourceGref | GrantCopySegment.DestGref,
        Status = 99,
    };

    public static short Status(this IGrantCopier copier, GrantCopySegment segment)
    {
        Span<GrantCopySegment> one = [segment];
        copier.Copy(one);
        return one[0].Status;
    }
}
