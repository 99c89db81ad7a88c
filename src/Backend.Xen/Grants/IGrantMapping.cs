namespace Backend.Xen.Grants;

/// <summary>One mapped foreign page; disposing unmaps it (and drops the grant's in-use bits).</summary>
public interface IGrantMapping : IDisposable
{
    ushort DomId { get; }
    uint Gref { get; }

    /// <summary>Start of the 4096-byte mapping; valid until disposed.</summary>
    nint Address { get; }
}
