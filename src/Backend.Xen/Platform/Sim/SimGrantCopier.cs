using Backend.Xen.Abi;
using Backend.Xen.Grants;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// GNTTABOP_copy over SIMXEN's files: every segment is checked as the hypervisor does, in SIMXEN's order,
/// and gets its own GNTST_* status.
/// <para>
/// A local side is a virtual address in this process, as in Linux's gntdev copy, so it carries no domain
/// and cannot name a foreign one through <see cref="Copy(Span{GrantCopySegment})"/>: permission_denied
/// cannot occur there. <see cref="Copy(Span{GrantCopySegment}, ushort)"/> takes the domain the local sides
/// name (as <c>gnttab_copy</c>'s non-grant side does) and answers permission_denied unless it is
/// DOMID_SELF or our own domain.
/// </para>
/// Each domain named in a batch is looked up once per batch (one stat of its grant-table), so a guest that
/// restarts is seen at the next batch. One thread at a time per instance, as <see cref="IGrantCopier"/>.
/// </summary>
public sealed class SimGrantCopier : IGrantCopier
{
    private readonly SimForeignDomains _domains;
    private readonly ushort _domId;
    private ushort[] _batchDomIds = new ushort[8];
    private SimForeignDomain?[] _batchDomains = new SimForeignDomain?[8];
    private int _batchCount;

    internal SimGrantCopier(SimForeignDomains domains, ushort domId)
    {
        _domains = domains;
        _domId = domId;
    }

    public void Copy(Span<GrantCopySegment> segments) => Copy(segments, DomId.Self);

    /// <summary>Copies with every local side naming <paramref name="localDomId"/>.</summary>
    public void Copy(Span<GrantCopySegment> segments, ushort localDomId)
    {
        var none = default(NoPinInterference);
        Copy(segments, localDomId, ref none);
    }

    internal void Copy<TInterference>(Span<GrantCopySegment> segments, ushort localDomId, ref TInterference interference)
        where TInterference : struct, ISimPinInterference
    {
        var localAllowed = localDomId == DomId.Self || localDomId == _domId;
        try
        {
            for (var i = 0; i < segments.Length; i++)
                segments[i].Status = CopyOne(ref segments[i], localAllowed, ref interference);
        }
        finally
        {
            EndBatch();
        }
    }

    private short CopyOne<TInterference>(ref GrantCopySegment segment, bool localAllowed, ref TInterference interference)
        where TInterference : struct, ISimPinInterference
    {
        var length = segment.Length;
        var sourceIsGref = (segment.Flags & GrantCopySegment.SourceGref) != 0;
        var destIsGref = (segment.Flags & GrantCopySegment.DestGref) != 0;
        var source = segment.Source;
        var dest = segment.Dest;

        // Domains first, source then destination, as Xen's gnttab_copy_lock_domains.
        SimForeignDomain? sourceDomain = null, destDomain = null;
        if (!sourceIsGref && !localAllowed)
            return GrantStatus.PermissionDenied;
        if (sourceIsGref && (sourceDomain = Domain(source.DomId)) is null)
            return GrantStatus.BadDomain;
        if (!destIsGref && !localAllowed)
            return GrantStatus.PermissionDenied;
        if (destIsGref && (destDomain = Domain(dest.DomId)) is null)
            return GrantStatus.BadDomain;

        uint sourceFrame = 0, destFrame = 0;
        if (sourceIsGref)
        {
            var status = sourceDomain!.Claim(source.Ref, _domId, write: false, out sourceFrame, ref interference);
            if (status != GrantStatus.Okay)
                return status;
        }
        if (destIsGref)
        {
            var status = destDomain!.Claim(dest.Ref, _domId, write: true, out destFrame, ref interference);
            if (status != GrantStatus.Okay)
            {
                if (sourceIsGref)
                    sourceDomain!.Unclaim(source.Ref, write: false, ref interference);
                return status;
            }
        }

        short result;
        if ((sourceIsGref && source.Offset + length > SimRoot.PageSize) || (destIsGref && dest.Offset + length > SimRoot.PageSize))
        {
            result = GrantStatus.BadCopyArg;
        }
        else
        {
            var from = sourceIsGref ? sourceDomain!.Page(sourceFrame).Slice(source.Offset, length) : LocalSpan(source.Virt, length);
            var to = destIsGref ? destDomain!.Page(destFrame).Slice(dest.Offset, length) : LocalSpan(dest.Virt, length);
            // Span.CopyTo is a memmove: a guest may grant one frame as both sides.
            from.CopyTo(to);
            result = GrantStatus.Okay;
        }
        if (destIsGref)
            destDomain!.Unclaim(dest.Ref, write: true, ref interference);
        if (sourceIsGref)
            sourceDomain!.Unclaim(source.Ref, write: false, ref interference);
        return result;
    }

    /// <summary>The domain as this batch sees it: looked up at its first use in the batch.</summary>
    private SimForeignDomain? Domain(ushort domid)
    {
        for (var i = 0; i < _batchCount; i++)
        {
            if (_batchDomIds[i] == domid)
                return _batchDomains[i];
        }
        if (_batchCount == _batchDomIds.Length)
        {
            Array.Resize(ref _batchDomIds, _batchCount * 2);
            Array.Resize(ref _batchDomains, _batchCount * 2);
        }
        var domain = _domains.Acquire(domid);
        _batchDomIds[_batchCount] = domid;
        _batchDomains[_batchCount] = domain;
        _batchCount++;
        return domain;
    }

    private void EndBatch()
    {
        for (var i = 0; i < _batchCount; i++)
        {
            _batchDomains[i]?.Release();
            _batchDomains[i] = null;
        }
        _batchCount = 0;
    }

    /// <summary>A span over local memory named by address, as a gntdev copy's local side is.</summary>
    private static unsafe Span<byte> LocalSpan(nint address, int length) => new((void*)address, length);
}
