namespace Backend.Host.Soak;

/// <summary>What a soak run found (report.json; <see cref="SoakMarkdown"/> writes report.md from it).</summary>
internal sealed record SoakReport
{
    public int Seed { get; init; }
    public double Seconds { get; init; }
    public int Guests { get; init; }
    public int Rate { get; init; }
    public int Window { get; init; }
    public DateTime StartedUtc { get; init; }
    public double WallSeconds { get; set; }
    public List<string> Schedule { get; init; } = [];
    public List<SoakFaultResult> Faults { get; } = [];
    public List<SoakStreamResult> Streams { get; set; } = [];
    public int DaemonIncarnations { get; set; }
    public int DaemonCrashes { get; set; }
    /// <summary>The daemon's last log lines at each crash and each failed fault.</summary>
    public List<string> DaemonLogs { get; } = [];
    public SoakResources? Baseline { get; set; }
    public SoakResources? End { get; set; }
    public SoakPercentiles? TreeRestartMs { get; set; }
    public SoakPercentiles? RoundTripUs { get; set; }
    public SoakPercentiles? RoundTripDuringNeighbourRestartUs { get; set; }
    public List<SoakCheck> Checks { get; } = [];
    public bool Passed => Checks.All(c => c.Passed);
}
