using System.Collections.Concurrent;
using Akka.Actor;

namespace Backend.Actors.Bridge;

/// <summary>
/// An L2 learning bridge, one per distinct <c>bridge</c> value: a MAC table with aging, and the ports.
/// It is shared by the bridge-port actors of its vifs, which forward on their own threads, so the table
/// is concurrent and an entry is updated in place (no allocation for a MAC it already knows).
/// </summary>
public sealed class LearningBridge(string name, TimeProvider time)
{
    /// <summary>As Linux's bridge default ageing time.</summary>
    public static readonly TimeSpan AgingTime = TimeSpan.FromSeconds(300);

    private sealed class MacEntry(BridgePort port, long seen)
    {
        public volatile BridgePort Port = port;
        public long LastSeen = seen;
    }

    private readonly ConcurrentDictionary<ulong, MacEntry> _table = new();
    private readonly ConcurrentDictionary<int, BridgePort> _ports = new();
    private readonly long _agingTicks = (long)(AgingTime.TotalSeconds * time.TimestampFrequency);
    private readonly long _refreshTicks = time.TimestampFrequency;
    private static int s_nextPortId;

    public string Name { get; } = name;

    public int PortCount => _ports.Count;

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

    public BridgePort AddPort(string portName, IActorRef receiver)
    {
        var port = new BridgePort(Interlocked.Increment(ref s_nextPortId), portName, receiver);
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
                _table.TryRemove(mac, out _);
    }

    /// <summary>
    /// The bridge's clock, read once per drain by the forwarder: ageing is counted in minutes, and a
    /// clock read per frame (two, learn and lookup) was 6 % of the daemon's CPU at 64-byte frames.
    /// </summary>
    public long Timestamp() => time.GetTimestamp();

    /// <summary>Records that <paramref name="source"/> is reachable through <paramref name="port"/>, as of <paramref name="now"/>.</summary>
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
        }
        else
        {
            _table[source.Value] = new MacEntry(port, now);
        }
    }

    /// <summary>The port a unicast destination was last seen on as of <paramref name="now"/>, or null (flood) when unknown or aged out.</summary>
    public BridgePort? Lookup(MacAddress destination, long now)
    {
        if (destination.IsMulticast || !_table.TryGetValue(destination.Value, out var entry))
            return null;
        if (now - Volatile.Read(ref entry.LastSeen) > _agingTicks)
        {
            _table.TryRemove(destination.Value, out _);
            return null;
        }
        var port = entry.Port;
        return _ports.ContainsKey(port.Id) ? port : null;
    }
}
