namespace Backend.Xen.Offload;

/// <summary>Why <see cref="TcpSegmenter.Prepare"/> accepted or refused a GSO frame.</summary>
public enum SegmentationStatus
{
    Ok,
    /// <summary>GSO size 0, or a GSO type other than TCPv4/TCPv6.</summary>
    InvalidGso,
    /// <summary>Not an unfragmented TCP packet of the IP version the GSO type names, or headers truncated.</summary>
    Malformed,
}
