namespace Backend.Host.Bench;

/// <summary>
/// The backend process's CPU over one workload run (the guests' warm-up and drain included, so per frame
/// of <see cref="WorkloadResult.FramesTotal"/>; for ping-pong, per frame of its round trips, which are
/// counted over the measured interval only, so its figure is high by the warm-up's share):
/// issue 14's measure of what a frame costs the backend.
/// </summary>
internal sealed record BackendCpu
{
    /// <summary>utime + stime of the backend process over the run.</summary>
    public double CpuSeconds { get; init; }

    /// <summary>Microseconds of backend CPU per frame delivered.</summary>
    public double? UsPerFrame { get; init; }

    /// <summary>Set on the daemon's runs: its <see cref="UsPerFrame"/> over cback's for the same workload, pairs and size.</summary>
    public double? UsPerFrameToCback { get; init; }

    /// <summary>Context switches of the backend's threads per 1,000 frames delivered.</summary>
    public double? ContextSwitchesPer1000Frames { get; init; }
}
