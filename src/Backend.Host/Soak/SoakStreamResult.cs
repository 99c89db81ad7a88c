namespace Backend.Host.Soak;

/// <summary>One stream's figures at the end of a soak (<see cref="SoakStreamCheck.Result"/>).</summary>
internal sealed record SoakStreamResult
{
    public ushort Stream { get; init; }
    public long Sent { get; init; }
    public long Received { get; init; }
    /// <summary>Frames lost outside every excused range: must be 0.</summary>
    public long Lost { get; init; }
    public long? FirstLost { get; init; }
    /// <summary>Frames lost inside an excused range, by fault class.</summary>
    public Dictionary<string, long> ExcusedLost { get; init; } = [];
    public long Corrupted { get; init; }
    public long Duplicates { get; init; }
    public long ExcusedDuplicates { get; init; }
    public long OutOfOrder { get; init; }
}
