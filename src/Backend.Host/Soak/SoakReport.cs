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
    public List<string> DaemonCrashLogs { get; } = [];
    public SoakResources? Baseline { get; set; }
    public SoakResources? End { get; set; }
    public SoakPercentiles? TreeRestartMs { get; set; }
    public SoakPercentiles? RoundTripUs { get; set; }
    public SoakPercentiles? RoundTripDuringNeighbourRestartUs { get; set; }
    public string XenstoreRestart { get; set; } = "";
    public List<SoakCheck> Checks { get; } = [];
    public bool Passed => Checks.All(c => c.Passed);
}

internal sealed record SoakFaultResult(string Fault, double StartedAt, double Milliseconds, string Outcome, double? TreeRestartMs);

internal sealed record SoakResources(long RssKiB, int Fds);

internal sealed record SoakPercentiles(int Count, double P50, double P99, double Max)
{
    public static SoakPercentiles? Of(List<double> samples)
    {
        if (samples.Count == 0)
            return null;
        samples.Sort();
        return new SoakPercentiles(samples.Count, samples[(int)(samples.Count * 0.50)], samples[Math.Min(samples.Count - 1, (int)(samples.Count * 0.99))], samples[^1]);
    }
}

/// <summary>One check of the soak: its name, whether it held, and the figures behind it.</summary>
internal sealed record SoakCheck(string Name, bool Passed, string Detail);
