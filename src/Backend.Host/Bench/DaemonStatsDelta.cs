namespace Backend.Host.Bench;

/// <summary>The daemon's growth between two <see cref="DaemonStats"/> samples.</summary>
internal sealed record DaemonStatsDelta
{
    public long AllocatedBytes { get; init; }

    /// <summary>Collections of every generation (gen0 counts each one; a gen1 or gen2 also bumps the lower counts).</summary>
    public int Collections { get; init; }

    public int Gen2Collections { get; init; }

    public long ManagedHeapBytes { get; init; }

    public long PrivateDirtyKiB { get; init; }

    /// <summary>Frames the backend forwarded during the interval (set by the bench), for bytes per frame.</summary>
    public long Frames { get; init; }

    public double AllocatedBytesPerFrame => Frames == 0 ? 0 : (double)AllocatedBytes / Frames;
}
