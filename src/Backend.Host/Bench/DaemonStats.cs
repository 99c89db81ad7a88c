using System.Text.Json.Serialization;

namespace Backend.Host.Bench;

/// <summary>
/// What the daemon's bench hook (<see cref="BenchStatsHook"/>) prints on SIGUSR1: its allocations and
/// collections so far (all threads), its managed heap and its private dirty memory.
/// </summary>
internal sealed record DaemonStats
{
    /// <summary><c>GC.GetTotalAllocatedBytes(true)</c> minus what the hook itself allocated to report.</summary>
    [JsonPropertyName("allocatedBytes")]
    public long AllocatedBytes { get; init; }

    [JsonPropertyName("gen0")]
    public int Gen0 { get; init; }

    [JsonPropertyName("gen1")]
    public int Gen1 { get; init; }

    [JsonPropertyName("gen2")]
    public int Gen2 { get; init; }

    /// <summary><c>GC.GetTotalMemory(false)</c>: live-and-not-yet-collected managed bytes.</summary>
    [JsonPropertyName("managedHeapBytes")]
    public long ManagedHeapBytes { get; init; }

    /// <summary><c>Private_Dirty</c> of <c>/proc/self/smaps_rollup</c>, in KiB (mapped guest pages are shared, not here).</summary>
    [JsonPropertyName("privateDirtyKiB")]
    public long PrivateDirtyKiB { get; init; }

    public DaemonStatsDelta Since(DaemonStats before) => new()
    {
        AllocatedBytes = AllocatedBytes - before.AllocatedBytes,
        Collections = Gen0 - before.Gen0,
        Gen2Collections = Gen2 - before.Gen2,
        ManagedHeapBytes = ManagedHeapBytes - before.ManagedHeapBytes,
        PrivateDirtyKiB = PrivateDirtyKiB - before.PrivateDirtyKiB,
    };
}
