using Backend.Xen.Grants;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Maps a granted page (a ring) by mapping page <c>frame</c> of the granter's memory file MAP_SHARED,
/// after the same checks as a copy. The mapping keeps GTF_reading (| GTF_writing) set until it is
/// disposed, and maps even when those bits are already set: a backend re-attaching after a crash finds
/// them as its previous instance left them.
/// </summary>
public sealed class SimGrantMapper : IGrantMapper
{
    private readonly SimForeignDomains _domains;
    private readonly ushort _domId;

    internal SimGrantMapper(SimForeignDomains domains, ushort domId)
    {
        _domains = domains;
        _domId = domId;
    }

    public IGrantMapping Map(ushort domid, uint gref, bool writable)
    {
        var domain = _domains.Acquire(domid)
            ?? throw new GrantException(GrantStatus.BadDomain, $"grant map of domain {domid} reference {gref}: domain {domid} has no grant table");
        var status = domain.Claim(gref, _domId, writable, out var frame);
        if (status != GrantStatus.Okay)
        {
            domain.Release();
            throw new GrantException(status, $"grant map of domain {domid} reference {gref}: {Describe(status)}");
        }
        try
        {
            return new SimGrantMapping(domain, gref, writable, domain.MapPage(frame, writable));
        }
        catch (IOException e)
        {
            domain.Unclaim(gref, writable);
            domain.Release();
            throw new GrantException(GrantStatus.GeneralError, $"grant map of domain {domid} reference {gref}: {e.Message}");
        }
    }

    private static string Describe(short status) => status switch
    {
        GrantStatus.BadGntref => "reference out of range (GNTST_bad_gntref)",
        GrantStatus.GeneralError => "not granted to us for this access, or unstable (GNTST_general_error)",
        GrantStatus.BadPage => "frame outside the granter's memory (GNTST_bad_page)",
        _ => $"GNTST {status}",
    };
}
