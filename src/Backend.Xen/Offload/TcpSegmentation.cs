namespace Backend.Xen.Offload;

/// <summary>
/// How one TCP GSO frame splits into MSS-sized segments, from <see cref="TcpSegmenter.Prepare"/>. Every
/// segment repeats the frame's headers (<see cref="HeaderLength"/> bytes) followed by its payload chunk.
/// </summary>
public readonly struct TcpSegmentation
{
    public FrameLayout Layout { get; init; }
    /// <summary>Ethernet + IP (with extension headers) + TCP header with options.</summary>
    public int HeaderLength { get; init; }
    /// <summary>TCP payload bytes of the whole frame (Ethernet padding excluded).</summary>
    public int PayloadLength { get; init; }
    /// <summary>The GSO size: payload bytes per segment but the last.</summary>
    public int Mss { get; init; }
    public int SegmentCount { get; init; }

    /// <summary>Bytes of segment <paramref name="index"/>: the buffer size to rent for it.</summary>
    public int SegmentLength(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, SegmentCount);
        return HeaderLength + Math.Min(Mss, PayloadLength - index * Mss);
    }
}
