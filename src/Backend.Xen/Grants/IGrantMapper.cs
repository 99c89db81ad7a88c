namespace Backend.Xen.Grants;

/// <summary>Maps pages a foreign domain granted to us (ring pages).</summary>
public interface IGrantMapper
{
    /// <summary>
    /// Maps one granted page. Throws <see cref="GrantException"/> carrying the GNTST_* status when the
    /// grant checks fail.
    /// </summary>
    IGrantMapping Map(ushort domid, uint gref, bool writable);
}
