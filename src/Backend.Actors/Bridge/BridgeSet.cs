using System.Collections.Concurrent;

namespace Backend.Actors.Bridge;

/// <summary>All learning bridges of the daemon, by the <c>bridge</c> value of their vifs.</summary>
public sealed class BridgeSet(TimeProvider time, BridgeOptions? options = null)
{
    private readonly ConcurrentDictionary<string, LearningBridge> _bridges = new(StringComparer.Ordinal);

    public LearningBridge Get(string name) => _bridges.GetOrAdd(name, static (n, s) => new LearningBridge(n, s.time, s.options), (time, options));
}
