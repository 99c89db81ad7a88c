namespace Backend.Host.Soak;

/// <summary>What a soak run does (<c>Backend.Host soak</c>'s options).</summary>
internal sealed record SoakOptions
{
    /// <summary>Length of the chaos phase; set-up before it and the checks after it come on top.</summary>
    public double Seconds { get; init; } = 300;

    /// <summary>Draws the fault schedule; the same seed replays the same schedule.</summary>
    public int Seed { get; init; }

    public string Output { get; init; } = "soak-results";

    /// <summary>Well-behaved guests, in pairs (one bridge per pair).</summary>
    public int Guests { get; init; } = 16;

    /// <summary>Frames a second each guest streams to its peer.</summary>
    public int Rate { get; init; } = 400;

    /// <summary>Frames a stream may have unacknowledged (SIMXEN's zero-loss rule allows 256).</summary>
    public int Window { get; init; } = 64;

    /// <summary>Mean time between the starts of two faults.</summary>
    public double FaultEvery { get; init; } = 3;

    /// <summary>The largest stream frame (the vifs' MTU is 9000: such a frame takes several RX slots).</summary>
    public int MaxFrame { get; init; } = 9014;

    /// <summary>The daemon's VmRSS at the end may exceed its baseline by this much (the GC keeps what it grew to; a leak per guest or per fault grows past it).</summary>
    public long RssToleranceKiB { get; init; } = 48 * 1024;

    /// <summary>The fault kinds dealt (<c>--faults</c>), to replay one kind many times; null: every kind.</summary>
    public IReadOnlySet<string>? Kinds { get; init; }

    /// <summary>Tree-restart time target (issue 16): p99 at most this.</summary>
    public double RestartP99TargetMs { get; init; } = 10;
}
