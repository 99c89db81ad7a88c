using System.Collections.Concurrent;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>The daemon's xenstore connection with a count of READs per path: what a guest makes it ask.</summary>
public sealed class CountingXenStore(IXenStore inner) : DelegatingXenStore(inner)
{
    private readonly ConcurrentDictionary<string, int> _reads = new(StringComparer.Ordinal);

    public int ReadsOf(string path) => _reads.TryGetValue(path, out var n) ? n : 0;

    public override Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        _reads.AddOrUpdate(path, 1, static (_, n) => n + 1);
        return base.ReadAsync(path, transaction, cancellationToken);
    }
}
