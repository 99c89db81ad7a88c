namespace Backend.Xen.Offload;

/// <summary>What <see cref="ChecksumOffload.FillBlank"/> did to a frame.</summary>
public enum ChecksumOutcome
{
    /// <summary>The TCP or UDP checksum (and the IPv4 header checksum) were computed and stored.</summary>
    Filled,
    /// <summary>IPv4 that is neither TCP nor UDP (or a fragment): only the header checksum was stored.</summary>
    IpHeaderOnly,
    /// <summary>Not IP, or IPv6 with no TCP/UDP header we can reach: the frame is unchanged.</summary>
    NotApplicable,
    /// <summary>Truncated or inconsistent headers: the frame is unchanged.</summary>
    Malformed,
}
