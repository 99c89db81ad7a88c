namespace Backend.Xen.XenStore;

/// <summary>
/// A client's watches by path, so that an event looks up its own path and each ancestor instead of testing
/// every watch: a backend holds two watches per vif, thousands in all, and every change under its
/// <c>backend/vif</c> directory is an event. Not thread-safe: <see cref="XenStoreClient"/> holds its lock.
/// </summary>
internal sealed class XenStoreWatchIndex
{
    private readonly Dictionary<string, List<XenStoreWatchRegistration>> _byPath = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<XenStoreWatchRegistration>>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    public XenStoreWatchIndex() => _bySpan = _byPath.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count { get; private set; }

    public void Add(XenStoreWatchRegistration registration)
    {
        if (!_byPath.TryGetValue(registration.Path, out var list))
            _byPath.Add(registration.Path, list = []);
        list.Add(registration);
        Count++;
    }

    public bool Remove(XenStoreWatchRegistration registration)
    {
        if (!_byPath.TryGetValue(registration.Path, out var list) || !list.Remove(registration))
            return false;
        if (list.Count == 0)
            _byPath.Remove(registration.Path);
        Count--;
        return true;
    }

    public bool Contains(XenStoreWatchRegistration registration) =>
        _byPath.TryGetValue(registration.Path, out var list) && list.Contains(registration);

    /// <summary>Every watch, in no particular order.</summary>
    public List<XenStoreWatchRegistration> ToList()
    {
        var all = new List<XenStoreWatchRegistration>(Count);
        foreach (var list in _byPath.Values)
            all.AddRange(list);
        return all;
    }

    public void Clear()
    {
        _byPath.Clear();
        Count = 0;
    }

    /// <summary>
    /// The watches <paramref name="watchEvent"/> is for (<see cref="XenStoreWatchRegistration.Matches"/>): those
    /// on its path and those on each prefix of it that ends before a '/', which are all the paths it can be at
    /// or below. The event's path comes from xenstore and is not trusted to be well formed; every candidate is
    /// still checked with <see cref="XenStoreWatchRegistration.Matches"/>.
    /// </summary>
    public void Collect(XenStoreWatchEvent watchEvent, ref XenStoreWatchRegistration? single, ref List<XenStoreWatchRegistration>? several)
    {
        ReadOnlySpan<char> path = watchEvent.Path;
        AddMatches(path, watchEvent, ref single, ref several);
        // "/" can come up twice (the path "/" itself, or one starting "//"): each watch counts once.
        var rootDone = path is "/";
        for (var slash = path.LastIndexOf('/'); slash >= 0; slash = path[..slash].LastIndexOf('/'))
        {
            var prefix = slash == 0 ? "/" : path[..slash];
            if (prefix is "/")
            {
                if (rootDone)
                    continue;
                rootDone = true;
            }
            AddMatches(prefix, watchEvent, ref single, ref several);
        }
    }

    private void AddMatches(ReadOnlySpan<char> path, XenStoreWatchEvent watchEvent, ref XenStoreWatchRegistration? single, ref List<XenStoreWatchRegistration>? several)
    {
        if (!_bySpan.TryGetValue(path, out var list))
            return;
        foreach (var registration in list)
        {
            if (!registration.Matches(watchEvent))
                continue;
            if (single is null)
                single = registration;
            else
                (several ??= [single]).Add(registration);
        }
    }
}
