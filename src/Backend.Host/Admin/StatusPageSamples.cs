namespace Backend.Host.Admin;

/// <summary>
/// The counters the status page showed, kept so that its next refresh can turn them into rates. Each page
/// names its own sample in its refresh URL (<c>/?since=N</c>), so every viewer's rates cover the time
/// between two of its own refreshes; a first visit takes the newest sample that is at least a second old,
/// if any. Bounded: the last <see cref="Kept"/> samples.
/// </summary>
public sealed class StatusPageSamples(TimeProvider time)
{
    public const int Kept = 16;

    /// <summary>A first visit's rates need a sample at least this old, so that they mean something.</summary>
    public static readonly TimeSpan MinimumAge = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly LinkedList<Sample> _samples = new();
    private long _lastId;

    /// <summary>What one page showed: its vifs' counters, by vif name.</summary>
    public sealed record Sample(long Id, long Timestamp, IReadOnlyDictionary<string, VifCountersDocument> Vifs);

    /// <summary>
    /// Records <paramref name="now"/> as a new sample and returns it with the sample to compute rates
    /// against (the one <paramref name="since"/> names while it is kept, else the newest at least
    /// <see cref="MinimumAge"/> old; null when there is none) and the seconds between the two.
    /// </summary>
    public (Sample Now, Sample? Base, double Seconds) Take(StatusDocument now, long? since)
    {
        var vifs = new Dictionary<string, VifCountersDocument>(now.Vifs.Count, StringComparer.Ordinal);
        foreach (var v in now.Vifs)
            vifs[v.Name] = v.Counters;
        lock (_lock)
        {
            var timestamp = time.GetTimestamp();
            var sample = new Sample(++_lastId, timestamp, vifs);
            var found = Find(since, timestamp);
            _samples.AddLast(sample);
            while (_samples.Count > Kept)
                _samples.RemoveFirst();
            var seconds = found is null ? 0 : time.GetElapsedTime(found.Timestamp, timestamp).TotalSeconds;
            return seconds > 0 ? (sample, found, seconds) : (sample, null, 0);
        }
    }

    /// <summary>The sample <paramref name="since"/> names if it is still kept, else the newest old enough.</summary>
    private Sample? Find(long? since, long timestamp)
    {
        if (since is { } id)
        {
            foreach (var candidate in _samples)
                if (candidate.Id == id)
                    return candidate;
        }
        for (var node = _samples.Last; node is not null; node = node.Previous)
            if (time.GetElapsedTime(node.Value.Timestamp, timestamp) >= MinimumAge)
                return node.Value;
        return null;
    }
}
