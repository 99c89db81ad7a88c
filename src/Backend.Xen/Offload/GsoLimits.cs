namespace Backend.Xen.Offload;

/// <summary>
/// How finely one GSO frame may be cut. A frame of at most 64 KiB with a GSO size of 1 would be 65,000
/// segments, each built, queued and copied by whoever delivers it to a frontend without GSO: work on
/// another guest's lane that the sender gets for the price of 17 ring slots. Linux refuses only a size of
/// 0 and lets its stack cut the rest; we bound both ends. A GSO size under <see cref="MinSize"/> is not
/// TCP that Linux would send (its TCP_MIN_MSS), and no frame is cut into more than
/// <see cref="MaxSegments"/> segments: one per slot of a full RX ring, the most one frame can take of a
/// receiver in one go. A 64 KiB frame passes with a GSO size from 256 up (Linux's smallest default MSS,
/// 536 less options, is far above it).
/// </summary>
public static class GsoLimits
{
    /// <summary>The smallest GSO size taken: Linux's TCP_MIN_MSS.</summary>
    public const int MinSize = 88;

    /// <summary>The most segments one GSO frame may be cut into: NET_RX_RING_SIZE.</summary>
    public const int MaxSegments = 256;

    /// <summary>Ethernet + IPv4 + TCP without options: the least of a TCP frame that is not payload.</summary>
    public const int MinHeaderLength = 14 + 20 + 20;

    /// <summary>Segments of <paramref name="gsoSize"/> bytes that <paramref name="payloadLength"/> bytes of payload make (one when empty).</summary>
    public static int Segments(int payloadLength, int gsoSize) =>
        payloadLength <= 0 ? 1 : (payloadLength + gsoSize - 1) / gsoSize;

    /// <summary>
    /// The most segments a frame of <paramref name="frameLength"/> bytes can make, before its headers are
    /// read: what the sender's ring is judged by, so that nothing after it is cut finer than this.
    /// </summary>
    public static int MostSegments(int frameLength, int gsoSize) =>
        Segments(frameLength - MinHeaderLength, gsoSize);
}
