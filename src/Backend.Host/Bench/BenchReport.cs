namespace Backend.Host.Bench;

/// <summary>Everything one bench invocation measured; written as report.json.</summary>
internal sealed record BenchReport
{
    public required MachineInfo Machine { get; init; }

    public DateTime StartedUtc { get; init; }

    /// <summary>One thread's memcpy, 10^9 bytes per second.</summary>
    public double MemcpyGBps { get; init; }

    public IReadOnlyList<CoreLoopResult> CoreLoop { get; init; } = [];

    /// <summary>Every workload of every backend.</summary>
    public IReadOnlyList<WorkloadResult> Results { get; init; } = [];

    /// <summary>The daemon's long stream with its allocation and collection deltas.</summary>
    public WorkloadResult? Steady { get; init; }

    public IdleGuestsResult? Idle { get; init; }

    /// <summary>The cback result for the same workload, pair count and size as <paramref name="daemon"/>.</summary>
    public WorkloadResult? CbackFor(WorkloadResult daemon) =>
        Results.FirstOrDefault(r => r.Backend == "cback" && r.Workload == daemon.Workload && r.Pairs == daemon.Pairs && r.Size == daemon.Size);
}
