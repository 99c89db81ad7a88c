using Backend.Xen.Grants;

namespace Backend.Xen.Platform.Sim;

/// <summary>One mapped foreign page holding its grant's in-use bits until disposed.</summary>
internal sealed class SimGrantMapping : IGrantMapping
{
    private readonly SimForeignDomain _domain;
    private readonly bool _writable;
    private SimPageMapping? _page;

    public SimGrantMapping(SimForeignDomain domain, uint gref, bool writable, SimPageMapping page)
    {
        _domain = domain;
        _writable = writable;
        _page = page;
        Gref = gref;
        Address = page.Address;
    }

    public ushort DomId => _domain.DomId;

    public uint Gref { get; }

    public nint Address { get; }

    public void Dispose()
    {
        var page = Interlocked.Exchange(ref _page, null);
        if (page is null)
            return;
        page.Unmap();
        _domain.Unclaim(Gref, _writable);
        _domain.Release();
    }
}
