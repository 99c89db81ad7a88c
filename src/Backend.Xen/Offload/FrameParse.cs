namespace Backend.Xen.Offload;

/// <summary>What <see cref="FrameLayout.TryParse"/> found.</summary>
public enum FrameParse
{
    Ok,
    /// <summary>Not IPv4 or IPv6 (ARP, ...).</summary>
    NotIp,
    /// <summary>Claims to be IP but is truncated or inconsistent: left alone.</summary>
    Malformed,
}
