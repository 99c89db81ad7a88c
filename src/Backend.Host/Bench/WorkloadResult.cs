namespace Backend.Host.Bench;

/// <summary>
/// One measured workload, as a guest process reports it (one JSON line) and the bench keeps it.
/// Figures that a workload does not produce are null.
/// </summary>
internal sealed record WorkloadResult
{
    /// <summary>windowed, unpaced or pingpong.</summary>
    public required string Workload { get; init; }

    public required int Pairs { get; init; }

    /// <summary>Frame length in bytes (65535 for the GSO frames).</summary>
    public required int Size { get; init; }

    /// <summary>Whether the 65535-byte frames went as GSO (both sides offered it) or as plain 16-slot frames.</summary>
    public bool Gso { get; init; }

    /// <summary>Length of the measured interval.</summary>
    public double Seconds { get; init; }

    /// <summary>Frames delivered to receivers during the interval, all pairs together.</summary>
    public long Frames { get; init; }

    /// <summary>Frames delivered from the start of the run to its end, warm-up and drain included.</summary>
    public long FramesTotal { get; init; }

    public double FramesPerSecond { get; init; }

    public double Gbps { get; init; }

    /// <summary>Unpaced: frames the senders put on their rings per second.</summary>
    public double? SentPerSecond { get; init; }

    /// <summary>Unpaced: frames sent and never delivered (after the backend had time to drain).</summary>
    public long? Drops { get; init; }

    /// <summary>Windowed: frames sent and never delivered (must be 0: the window keeps the stream lossless).</summary>
    public long? Lost { get; init; }

    /// <summary>Frames delivered out of order.</summary>
    public long OutOfOrder { get; init; }

    public double? P50Us { get; init; }

    public double? P99Us { get; init; }

    public long? RoundTrips { get; init; }

    /// <summary>Ping-pong: pings the watchdog sent again because neither they nor their pong came back.</summary>
    public long? Retries { get; init; }

    public long TxErrors { get; init; }

    public long RxErrors { get; init; }

    /// <summary>Set by the bench: daemon or cback.</summary>
    public string? Backend { get; init; }

    /// <summary>Set by the bench: the backend process's CPU over the run.</summary>
    public BackendCpu? Cpu { get; init; }

    /// <summary>Set by the bench for the daemon's long stream: its allocations and collections over it.</summary>
    public DaemonStatsDelta? DaemonDelta { get; init; }
}
