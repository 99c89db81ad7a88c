using Akka.Actor;
using Backend.Xen.Abi;

namespace Backend.Actors.Bridge;

/// <summary>
/// An L2 learning bridge, one per distinct <c>bridge</c> value: a MAC table with aging, and the ports.
/// It is shared by the forwarders of its ports (vifs' TX ring actors, uplinks' port actors), which run
/// on their own threads. The table (<see cref="MacTable"/>) is read without a lock; what changes an answer
/// of <see cref="Lookup"/> (a new MAC, a move, a removal, a port that goes) is made under the bridge's
/// write lock and bumps <see cref="Version"/>, so that a forwarder may keep an answer for as long as the
/// version stays (<see cref="BridgeForwarder"/>, one look-up per run of frames to a destination). A known
/// MAC's age is refreshed in place, without the lock and without a new version: it changes no answer.
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

    private readonly TimeProvider _time;
    private readonly MacTable _table = new();
    // Writers of the table and of the ports: learning a new MAC, a move, removals, ports coming and going.
    private readonly Lock _gate = new();
    private readonly List<int> _freeIndexes = [];
    private readonly long _agingTicks;
    private readonly long _refreshTicks;
    private readonly long _sweepTicks;
    private readonly int _maxMacs;
    private BridgePort[] _ports = [];
    private int _nextIndex;
    private int _version;
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

    public int PortCount => Volatile.Read(ref _ports).Length;

    /// <summary>Entries in the MAC table (aged ones included until a lookup or the sweep removes them).</summary>
    public int MacCount => Volatile.Read(ref _macCount);

    /// <summary>
    /// Bumped after every change that can change what <see cref="Lookup"/> or <see cref="Learn"/> would do:
    /// an answer a reader got after reading version v holds while the version is still v (as of the same
    /// timestamp, for ageing).
    /// </summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>
    /// The ports, as an array replaced whenever a port comes or goes: flooding reads it per frame, and
    /// enumerating a dictionary would allocate a snapshot each time.
    /// </summary>
    public IReadOnlyList<BridgePort> Ports => Volatile.Read(ref _ports);

    /// <summary>The ports as the array itself, for the forwarder's flood (no interface call per port).</summary>
    internal BridgePort[] PortArray => Volatile.Read(ref _ports);

    /// <summary>
    /// A new port. A vif's port gives its <paramref name="configuredMac"/>: under
    /// <see cref="BridgeSourceMac.Locked"/> it may send from that MAC alone. An uplink gives none: it fronts
    /// a whole network and any source is learned from it.
    /// </summary>
    public BridgePort AddPort(string portName, IActorRef receiver, MacAddress? configuredMac = null)
    {
        var lockedSource = Options.SourceMac == BridgeSourceMac.Locked ? configuredMac : null;
        var port = new BridgePort(Interlocked.Increment(ref _nextPortId), portName, receiver, lockedSource);
        lock (_gate)
        {
            // The lowest free index, so that forwarders' per-port arrays stay as small as the bridge.
            if (_freeIndexes.Count > 0)
            {
                port.Index = _freeIndexes[^1];
                _freeIndexes.RemoveAt(_freeIndexes.Count - 1);
            }
            else
            {
                port.Index = _nextIndex++;
            }
            Volatile.Write(ref _ports, [.. _ports, port]);
        }
        return port;
    }

    public void RemovePort(BridgePort port)
    {
        lock (_gate)
        {
            if (port.Removed || Array.IndexOf(_ports, port) < 0)
                return;
            // Set before its MACs go: a forwarder that learns on the port from now on is refused (Insert),
            // and one that still finds an entry of it in an array it read earlier gets no port (Lookup).
            port.Removed = true;
            Volatile.Write(ref _ports, Array.FindAll(_ports, p => p != port));
            _freeIndexes.Add(port.Index);
            _freeIndexes.Sort(static (a, b) => b.CompareTo(a));
            _table.RemoveWhere(static (entry, gone) => entry.Port == gone, port);
            Changed();
        }
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
    /// <c>max_learned</c> refuses too.) A known source costs one look-up and no lock.
    /// </summary>
    public void Learn(MacAddress source, BridgePort port, long now)
    {
        if (source.IsMulticast)
            return;
        var entry = _table.Find(source.Value);
        if (entry is null)
        {
            Insert(source.Value, port, now);
            return;
        }
        if (entry.Port != port)
            Move(entry, port);
        // Refreshed at most once a second: the entry's cache line is read by every port that sends to
        // this MAC, and a write per frame would bounce it between their threads.
        if (now - Volatile.Read(ref entry.LastSeen) > _refreshTicks)
            Volatile.Write(ref entry.LastSeen, now);
    }

    /// <summary>The port a unicast destination was last seen on as of <paramref name="now"/>, or null (flood) when unknown or aged out.</summary>
    public BridgePort? Lookup(MacAddress destination, long now)
    {
        if (destination.IsMulticast)
            return null;
        var entry = _table.Find(destination.Value);
        if (entry is null)
            return null;
        if (now - Volatile.Read(ref entry.LastSeen) > _agingTicks)
        {
            RemoveAged(entry, now);
            return null;
        }
        var port = entry.Port;
        return port.Removed ? null : port;
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
        lock (_gate)
        {
            // The rebuilt table is the one allocation, once a sweep interval and only when something aged.
            if (_table.RemoveWhere(static (entry, s) => s.now - Volatile.Read(ref entry.LastSeen) > s.aging, (now, aging: _agingTicks)) != 0)
                Changed();
        }
    }

    private void Insert(ulong mac, BridgePort port, long now)
    {
        lock (_gate)
        {
            // A drain that still runs as its port goes would otherwise leave an entry to no port.
            if (port.Removed)
                return;
            // Another port may have learned it since our look-up: this frame is the later sighting.
            if (_table.Find(mac) is { } known)
            {
                MoveLocked(known, port);
                return;
            }
            if (_table.Count >= _maxMacs)
                return;
            _table.Add(new MacEntry(mac, port, now));
            Changed();
        }
    }

    private void Move(MacEntry entry, BridgePort port)
    {
        lock (_gate)
        {
            // An entry removed since our look-up is learned afresh by the port's next frame.
            if (!port.Removed && _table.Find(entry.Mac) == entry)
                MoveLocked(entry, port);
        }
    }

    private void MoveLocked(MacEntry entry, BridgePort port)
    {
        if (entry.Port == port)
            return;
        entry.Port = port;
        Changed();
    }

    private void RemoveAged(MacEntry entry, long now)
    {
        lock (_gate)
        {
            // Checked again under the lock: its port may have refreshed it since.
            if (now - Volatile.Read(ref entry.LastSeen) > _agingTicks && _table.RemoveWhere(static (e, aged) => e == aged, entry) != 0)
                Changed();
        }
    }

    /// <summary>Under the lock, after the change is published: the count, then the version readers compare.</summary>
    private void Changed()
    {
        Volatile.Write(ref _macCount, _table.Count);
        Volatile.Write(ref _version, _version + 1);
    }
}
