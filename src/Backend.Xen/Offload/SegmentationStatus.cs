namespace Backend.Xen.Offload;

/// <summary>Why <see cref="TcpSegmenter.Prepare"/> accepted or refused a GSO frame.</summary>
public enum SegmentationStatus
{
    Ok,
    /// <summary>A GSO size under <see cref="GsoLimits.MinSize"/> (0 included), or a GSO type other than TCPv4/TCPv6.</summary>
    InvalidGso,
    /// <summary>Not an unfragmented TCP packet of the IP version the GSO type names, or headers truncated.</summary>
    Malformed,
    /// <summary>More than <see cref="GsoLimits.MaxSegments"/> segments.</summary>
    TooManySegments,
}
