using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Grants;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// The frontend's granted pages and a copier that runs copies into them as GNTTABOP_copy would, with
/// the hypervisor's checks that matter here: the right domain, a granted reference, and
/// offset + length within the page; each segment gets its own status. It also insists that no local
/// source crosses a page, which the planner promises.
/// </summary>
internal sealed class RxGuestPages(ushort domid) : IGrantCopier
{
    private readonly Dictionary<uint, byte[]> _pages = [];

    public int Copies { get; private set; }

    public byte[] Grant(uint gref)
    {
        var page = new byte[NetifConstants.PageSize];
        _pages[gref] = page;
        return page;
    }

    public byte[] Page(uint gref) => _pages[gref];

    public unsafe void Copy(Span<GrantCopySegment> segments)
    {
        for (int i = 0; i < segments.Length; i++)
        {
            ref GrantCopySegment segment = ref segments[i];
            Copies++;
            if (segment.Flags != GrantCopySegment.DestGref)
                segment.Status = GrantStatus.GeneralError;
            else if (segment.Dest.DomId != domid)
                segment.Status = GrantStatus.BadDomain;
            else if (!_pages.TryGetValue(segment.Dest.Ref, out byte[]? page))
                segment.Status = GrantStatus.BadGntref;
            else if (segment.Dest.Offset + segment.Length > NetifConstants.PageSize)
                segment.Status = GrantStatus.BadCopyArg;
            else if ((segment.Source.Virt & (NetifConstants.PageSize - 1)) + segment.Length > NetifConstants.PageSize)
                segment.Status = GrantStatus.BadCopyArg;
            else
            {
                new ReadOnlySpan<byte>((void*)segment.Source.Virt, segment.Length).CopyTo(page.AsSpan(segment.Dest.Offset));
                segment.Status = GrantStatus.Okay;
            }
        }
    }
}
