using Backend.Xen.Abi;
using Backend.Xen.Grants;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// The frontend's granted pages and a copier that runs copies into them (RX) or out of them (TX) as
/// GNTTABOP_copy would, with the hypervisor's checks that matter here: the right domain, a granted
/// reference, and offset + length within the page; each segment gets its own status. It also insists
/// that no local source crosses a page, which the RX planner promises.
/// </summary>
internal sealed class GuestPages(ushort domid) : IGrantCopier
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
            bool toGuest = segment.Flags == GrantCopySegment.DestGref;
            if (!toGuest && segment.Flags != GrantCopySegment.SourceGref)
            {
                segment.Status = GrantStatus.GeneralError;
                continue;
            }
            GrantCopyPointer guest = toGuest ? segment.Dest : segment.Source;
            if (guest.DomId != domid)
                segment.Status = GrantStatus.BadDomain;
            else if (!_pages.TryGetValue(guest.Ref, out byte[]? page))
                segment.Status = GrantStatus.BadGntref;
            else if (guest.Offset + segment.Length > NetifConstants.PageSize)
                segment.Status = GrantStatus.BadCopyArg;
            else if (toGuest && (segment.Source.Virt & (NetifConstants.PageSize - 1)) + segment.Length > NetifConstants.PageSize)
                segment.Status = GrantStatus.BadCopyArg;
            else
            {
                if (toGuest)
                    new ReadOnlySpan<byte>((void*)segment.Source.Virt, segment.Length).CopyTo(page.AsSpan(guest.Offset));
                else
                    page.AsSpan(guest.Offset, segment.Length).CopyTo(new Span<byte>((void*)segment.Dest.Virt, segment.Length));
                segment.Status = GrantStatus.Okay;
            }
        }
    }
}
