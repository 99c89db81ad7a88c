using Backend.Xen.Buffers;

namespace Backend.Xen.Netback;

/// <summary>
/// What <see cref="TxQueue.Complete"/> did: the responses are written and pushed, and these are the
/// frames to forward (now the caller's: each buffer is returned by whoever holds it last) and whether
/// the frontend asked to be notified of the responses.
/// </summary>
public readonly ref struct TxCompletion
{
    public TxCompletion(ReadOnlySpan<PacketBuffer> frames, bool notify, int answered, long bytes, int errors, int gsoChecksumFixups = 0, int fragOverflows = 0)
    {
        Frames = frames;
        Notify = notify;
        Answered = answered;
        Bytes = bytes;
        Errors = errors;
        GsoChecksumFixups = gsoChecksumFixups;
        FragOverflows = fragOverflows;
    }

    /// <summary>The frames whose copies succeeded, in ring order; valid until the next <see cref="TxQueue.Collect"/>.</summary>
    public ReadOnlySpan<PacketBuffer> Frames { get; }

    /// <summary>ring.h says the frontend is to be notified of the responses pushed.</summary>
    public bool Notify { get; }

    /// <summary>Packets answered (frames, errors and multicast control alike).</summary>
    public int Answered { get; }

    /// <summary>Bytes of <see cref="Frames"/>.</summary>
    public long Bytes { get; }

    /// <summary>Packets answered with ERROR: invalid, or a copy of theirs failed.</summary>
    public int Errors { get; }

    /// <summary>Frames forwarded that Linux would have fixed up (<see cref="TxPacket.NeedsGsoChecksumFixup"/>).</summary>
    public int GsoChecksumFixups { get; }

    /// <summary>Frames forwarded with more slots than an skb has frags (<see cref="TxPacket.OverflowsSkbFrags"/>).</summary>
    public int FragOverflows { get; }
}
