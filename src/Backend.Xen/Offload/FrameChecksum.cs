namespace Backend.Xen.Offload;

/// <summary>
/// The state of a frame's checksums as it travels through the backend, in netif terms: what the sender
/// left blank (NETTXF_csum_blank) must be filled in or passed on as NETRXF_csum_blank.
/// </summary>
public enum FrameChecksum : byte
{
    /// <summary>Nothing known: the receiver checks the checksums itself.</summary>
    None,
    /// <summary>The transport checksum is not filled in (at most the pseudo-header sum is there).</summary>
    Blank,
    /// <summary>The checksums were checked already (NETTXF_data_validated / NETRXF_data_validated).</summary>
    Validated,
}
