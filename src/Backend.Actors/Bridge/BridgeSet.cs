using System.Collections.Concurrent;

namespace Backend.Actors.Bridge;

/// <summary>All learning bridges of the daemon, by the <c>bridge</c> value of their vifs.</summary>
public sealed class BridgeSet(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, LearningBridge> _bridges = new(StringComparer.Ordinal);

    public LearningBridge Get(string name) => _bridges.GetOrAdd(name, static (n, t) => new LearningBridge(n, t), time);

    public IEnumerable<LearningBridge> All => _bridges.Values;
}
