namespace Backend.Host.Bench;

/// <summary>What one <c>bench</c> invocation measures; <see cref="Smoke"/> is the seconds-long run of the test suite.</summary>
internal sealed record BenchOptions
{
    public IReadOnlyList<int> Sizes { get; init; } = [64, 1500, 9000, BenchFrame.GsoFrameLength];

    public IReadOnlyList<int> Pairs { get; init; } = [1, 32];

    public IReadOnlyList<string> Workloads { get; init; } = ["windowed", "unpaced", "pingpong"];

    /// <summary>daemon, then cback, as the issue orders them.</summary>
    public IReadOnlyList<string> Backends { get; init; } = ["daemon", "cback"];

    /// <summary>Measured seconds per workload (each also has a short warm-up and drain).</summary>
    public double Seconds { get; init; } = 2;

    /// <summary>
    /// Unmeasured windowed stream per size before the measurements of each guest process, for both backends:
    /// the daemon's code starts unoptimised (tiered JIT) and a daemon is measured as it runs for days.
    /// </summary>
    public double WarmupSeconds { get; init; } = 1.5;

    /// <summary>Length of the daemon's stream over which its allocations and collections are counted (0: none).</summary>
    public double SteadySeconds { get; init; } = 10;

    /// <summary>Idle guests connected to the daemon for the memory and connect-time figures (0: none).</summary>
    public int IdleGuests { get; init; } = 1000;

    /// <summary>Where report.json, report.md and frames.svg go.</summary>
    public string Output { get; init; } = "bench-results";

    /// <summary>A folder holding a built cback; null to build it with simxen-c's build.sh.</summary>
    public string? CbackBuild { get; init; }

    public string SimxenCSource { get; init; } = "/work/shared/simxen-c";

    /// <summary>Rounds of the in-process protocol-core loop per size.</summary>
    public double CoreSeconds { get; init; } = 1;

    public static BenchOptions Smoke(string output) => new()
    {
        Sizes = [64, BenchFrame.GsoFrameLength],
        Pairs = [1],
        Seconds = 0.2,
        WarmupSeconds = 0.1,
        SteadySeconds = 0.3,
        IdleGuests = 8,
        CoreSeconds = 0.1,
        Output = output,
    };
}
