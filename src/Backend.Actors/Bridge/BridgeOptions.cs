namespace Backend.Actors.Bridge;

/// <summary>How the daemon's learning bridges treat what guests send, decided by hosting.</summary>
public sealed record BridgeOptions
{
    public const int DefaultMaxMacs = 4096;

    /// <summary>Which source MACs a vif may send from (uplinks, which front a whole network, learn any).</summary>
    public BridgeSourceMac SourceMac { get; init; } = BridgeSourceMac.Locked;

    /// <summary>
    /// MAC table entries per bridge; once it is full, new sources are not learned (frames to them are
    /// flooded) until entries age out.
    /// </summary>
    public int MaxMacs { get; init; } = DefaultMaxMacs;
}
