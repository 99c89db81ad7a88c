using System.Collections.Concurrent;
using Akka.Actor;
using Backend.Xen.Abi;

namespace Backend.Actors.Bridge;

/// <summary>
/// An L2 learning bridge, one per distinct <c>bridge</c> value: a MAC table with aging, and the ports.
/// It is shared by the forwarders of its ports (vifs' TX ring actors, uplinks' port actors), which run
/// on their own threads, so the table is concurrent and an entry is updated in place (no allocation for
/// a MAC it already knows).
/// The table is bounded (<see cref="BridgeOptions.MaxMacs"/>) and swept of aged entries every
/// <see cref="SweepInterval"/> by whichever port forwards then, so that sources nobody looks up again
/// (a guest that sent from random MACs, say) do not stay for ever.
/// </summary>
public sealed class LearningBridge
{
    /// <summary>As Linux's bridge default ageing time.</summary>
    public static readonly TimeSpan AgingTime = TimeSpan.FromSeconds(300);

    /// <summary>An aged entry nobody looks up goes at most this long after it aged.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private sealed class MacEntry(BridgePort port, long seen)
    {
        public volatile BridgePort Port = port;
        public long LastSeen = seen;
    }

    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<ulong, MacEntry> _table = new();
    private readonly ConcurrentDictionary<int, BridgePort> _ports = new();
    private readonly long _agingTicks;
    private readonly long _refreshTicks;
    private readonly long _sweepTicks;
    private readonly int _maxMacs;
    // Counted here: ConcurrentDictionary.Count takes every lock of the table.
    private int _macCount;
    private long _lastSweep;
    private static int _nextPortId;

    public LearningBridge(string name, TimeProvider time, BridgeOptions? options = null)
    {
        Name = name;
        _time = time;
        Options = options ?? new BridgeOptions();
        _maxMacs = Options.MaxMacs;
        _agingTicks = (long)(AgingTime.TotalSeconds * time.TimestampFrequency);
        _refreshTicks = time.TimestampFrequency;
        _sweepTicks = (long)(SweepInterval.TotalSeconds * time.TimestampFrequency);
        _lastSweep = time.GetTimestamp();
    }

    public string Name { get; }

    public BridgeOptions Options { get; }

    public int PortCount => _ports.Count;

    /// <summary>Entries in the MAC table (aged ones included until a lookup or the sweep removes them).</summary>
    public int MacCount => Volatile.Read(ref _macCount);

    /// <summary>
    /// The ports, as an array replaced whenever a port comes or goes: flooding reads it per frame, and
    /// enumerating the dictionary would allocate a snapshot each time.
    /// </summary>
    public IReadOnlyList<BridgePort> Ports => Volatile.Read(ref _portList);

    private BridgePort[] _portList = [];

    private void PublishPorts()
    {
        lock (_ports)
            Volatile.Write(ref _portList, [.. _ports.Values]);
    }

    /// <summary>
    /// A new port. A vif's port gives its <paramref name="configuredMac"/>: under
    /// <see cref="BridgeSourceMac.Locked"/> it may send from that MAC alone. An uplink gives none: it fronts
    /// a whole network and any source is learned from it.
    /// </summary>
    public BridgePort AddPort(string portName, IActorRef receiver, MacAddress? configuredMac = null)
    {
        var lockedSource = Options.SourceMac == BridgeSourceMac.Locked ? configuredMac : null;
        var port = new BridgePort(Interlocked.Increment(ref _nextPortId), portName, receiver, lockedSource);
        _ports[port.Id] = port;
        PublishPorts();
        return port;
    }

    public void RemovePort(BridgePort port)
    {
        _ports.TryRemove(port.Id, out _);
        PublishPorts();
        foreach (var (mac, entry) in _table)
            if (entry.Port == port)
                Remove(mac, entry);
    }

    /// <summary>
    /// The bridge's clock, read once per drain by the forwarder: ageing is counted in minutes, and a
    /// clock read per frame (two, learn and lookup) was 6 % of the daemon's CPU at 64-byte frames.
    /// </summary>
    public long Timestamp() => _time.GetTimestamp();

    /// <summary>
    /// Records that <paramref name="source"/> is reachable through <paramref name="port"/>, as of
    /// <paramref name="now"/>. A new source is not learned while the table is full: frames to it are
    /// flooded until aged entries make room. (Evicting the oldest instead would let whoever sends from
    /// many MACs push out the entries of guests in use and turn their unicast into floods; Linux's
    /// <c>max_learned</c> refuses too.)
    /// </summary>
    public void Learn(MacAddress source, BridgePort port, long now)
    {
        if (source.IsMulticast)
            return;
        if (_table.TryGetValue(source.Value, out var entry))
        {
            if (entry.Port != port)
                entry.Port = port;
            // Refreshed at most once a second: the entry's cache line is read by every port that sends
            // to this MAC, and a write per frame would bounce it between their threads.
            if (now - Volatile.Read(ref entry.LastSeen) > _refreshTicks)
                Volatile.Write(ref entry.LastSeen, now);
            return;
        }
        // The place is taken before the entry is added, so that ports learning at once never pass the bound.
        if (Interlocked.Increment(ref _macCount) > _maxMacs || !_table.TryAdd(source.Value, new MacEntry(port, now)))
        {
            // Full; or another port added this MAC at the same moment, whose entry stands until the next frame.
            Interlocked.Decrement(ref _macCount);
        }
    }

    /// <summary>The port a unicast destination was last seen on as of <paramref name="now"/>, or null (flood) when unknown or aged out.</summary>
    public BridgePort? Lookup(MacAddress destination, long now)
    {
        if (destination.IsMulticast || !_table.TryGetValue(destination.Value, out var entry))
            return null;
        if (now - Volatile.Read(ref entry.LastSeen) > _agingTicks)
        {
            Remove(destination.Value, entry);
            return null;
        }
        var port = entry.Port;
        return _ports.ContainsKey(port.Id) ? port : null;
    }

    /// <summary>
    /// Removes the entries aged as of <paramref name="now"/> when the last sweep was
    /// <see cref="SweepInterval"/> ago or more; one caller sweeps, the others go on. Called once per drain.
    /// </summary>
    public void SweepIfDue(long now)
    {
        var last = Volatile.Read(ref _lastSweep);
        if (now - last < _sweepTicks || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
            return;
        // The enumerator is the one allocation, once a sweep interval.
        foreach (var (mac, entry) in _table)
        {
            if (now - Volatile.Read(ref entry.LastSeen) > _agingTicks)
                Remove(mac, entry);
        }
    }

    /// <summary>Removes <paramref name="entry"/> if it is still the one for <paramref name="mac"/>.</summary>
    private void Remove(ulong mac, MacEntry entry)
    {
        if (_table.TryRemove(new KeyValuePair<ulong, MacEntry>(mac, entry)))
            Interlocked.Decrement(ref _macCount);
    }
}
