using System.Diagnostics.Metrics;
using Backend.Actors.Status;
using Backend.Host.Admin;
using Backend.Xen.Buffers;

namespace Backend.Host.Metrics;

/// <summary>
/// The daemon's figures as <c>System.Diagnostics.Metrics</c> instruments of one <see cref="Meter"/> named
/// <c>xnb</c>: what <c>dotnet-counters monitor --counters xnb</c>, an OpenTelemetry SDK and
/// <c>GET /metrics</c> (<see cref="PrometheusWriter"/>) all read. Every instrument is observable: its
/// callback reads the live counters the actors already keep (<see cref="VifStatusRegistry"/>, the uplinks'
/// TAPs, the packet-buffer pool) when a reader asks, so the data path does no extra work for them.
/// <para>
/// Instrument names are the Prometheus names themselves (<c>xnb_vif_tx_packets_total</c>): every reader
/// shows the same name, and the series admins already scrape keep theirs. Per-vif series carry
/// <c>vif</c> (Xen's <c>vif&lt;domid&gt;.&lt;handle&gt;</c>), <c>device</c> (the host interface: the
/// vif's TAP when it has one, which may carry the toolstack's <c>vifname</c>, else the same
/// <c>vif&lt;domid&gt;.&lt;handle&gt;</c>; node_exporter's label for that interface), <c>domid</c> and
/// <c>handle</c>. Counters are from the ring's side: TX is from the guest, RX to the guest (netif.h).
/// </para>
/// </summary>
public sealed class XnbMetrics : IDisposable
{
    public const string MeterName = "xnb";

    private readonly VifStatusRegistry _registry;
    private readonly Func<IReadOnlyList<UplinkStatusDocument>> _uplinks;
    private readonly PacketBufferPool _buffers;
    private readonly long _startTimeSeconds;

    /// <param name="uplinks">The uplinks and their TAPs' counters, read at each collection.</param>
    /// <param name="time">The start time's clock (<see cref="TimeProvider.System"/> by default).</param>
    public XnbMetrics(VifStatusRegistry registry, Func<IReadOnlyList<UplinkStatusDocument>> uplinks, PacketBufferPool buffers, TimeProvider? time = null)
    {
        _registry = registry;
        _uplinks = uplinks;
        _buffers = buffers;
        _startTimeSeconds = (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();
        Meter = new Meter(MeterName, Version);

        // Native memory has no finalizer: buffers outstanding while the data path is idle are a leak.
        Gauge("xnb_packet_buffers_outstanding", "Packet buffers in use: frames in rings, queues and messages (0 when idle).", () => _buffers.Outstanding);
        Gauge("xnb_packet_buffers_kept", "Packet buffers held by the pool for reuse.", () => _buffers.Kept);
        Gauge("xnb_packet_buffers_kept_bytes", "Native memory the pool holds for reuse (bounded per size class).", () => _buffers.KeptBytes);
        Meter.CreateObservableCounter("xnb_packet_buffers_created_total", () => _buffers.Created, description: "Packet buffers allocated (native memory).");
        // The managed side of the daemon's memory, beside the pool's native side: with VmRSS they tell a leak
        // of objects from a heap the GC has not given back.
        // The heap as it is now (GetGCMemoryInfo's figures are the last collection's, and a daemon that
        // allocates nothing in steady state may not have collected yet).
        Gauge("xnb_gc_heap_bytes", "Bytes the managed heap holds now (objects allocated and not yet collected).", () => GC.GetTotalMemory(forceFullCollection: false));
        Gauge("xnb_gc_committed_bytes", "Memory the garbage collector had committed at its last collection (heap, free space it keeps, its bookkeeping); 0 before the first.", () => GC.GetGCMemoryInfo().TotalCommittedBytes);
        Gauge("xnb_vifs", "Vifs the daemon serves.", () => _registry.Snapshot().Count);
        Meter.CreateObservableCounter("xnb_vifs_disabled_total", () => Interlocked.Read(ref _registry.DisabledTotal), description: "Vifs disabled for fatal frontend errors.");
        Meter.CreateObservableCounter("xnb_frames_dead_lettered_total", () => Interlocked.Read(ref _registry.FramesDeadLettered),
            description: "Frames dropped because the actor they were sent to had stopped (a vif's tree stopping or restarting with frames on their way to it).");
        Meter.CreateObservableGauge("xnb_build_info", () => new Measurement<long>(1, new KeyValuePair<string, object?>("version", Version)),
            description: "Always 1; the daemon's version as a label.");
        Gauge("xnb_start_time_seconds", "When the daemon started, in seconds since the Unix epoch (a change is a restart).", () => _startTimeSeconds);

        foreach (var (name, counter, help, value) in VifInstruments)
        {
            if (counter)
                Meter.CreateObservableCounter(name, () => PerVif(value), description: help);
            else
                Meter.CreateObservableGauge(name, () => PerVif(value), description: help);
        }
        foreach (var (name, help, value) in QueueInstruments)
            Meter.CreateObservableCounter(name, () => PerQueue(value), description: help);
        Meter.CreateObservableGauge("xnb_vif_queue_rx_stalled", () => PerQueue(q => q.RxStalled ? 1 : 0),
            description: "Of a multi-queue vif, 1 while the queue's guest RX ring has stalled.");
        foreach (var (suffix, help, value) in TapInstruments)
            Meter.CreateObservableCounter("xnb_vif_tap_" + suffix, () => PerVif(v => v.TapCounters is { } t ? value(TapCountersDocument.From(v.TapDevice ?? "", t)) : 0), description: "With --switch tap: " + help);
        foreach (var (suffix, help, value) in TapInstruments)
            Meter.CreateObservableCounter("xnb_uplink_" + suffix, () => PerUplink(value), description: "Uplink: " + help);
    }

    /// <summary>The daemon's version (Directory.Build.props), as <c>xnb_build_info</c> and the meter's version show it.</summary>
    public static string Version { get; } =
        typeof(XnbMetrics).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";

    public Meter Meter { get; }

    // Read with Interlocked (the actors write them so); a vif without a bridge port or TAP reads 0.
    private static readonly (string Name, bool Counter, string Help, Func<VifStatus, long> Value)[] VifInstruments =
    [
        ("xnb_vif_tx_packets_total", true, "Frames received from the guest (TX ring).", v => Interlocked.Read(ref v.TxPackets)),
        ("xnb_vif_tx_bytes_total", true, "Bytes received from the guest (TX ring).", v => Interlocked.Read(ref v.TxBytes)),
        ("xnb_vif_tx_errors_total", true, "TX requests answered with an error.", v => Interlocked.Read(ref v.TxErrors)),
        ("xnb_vif_rx_packets_total", true, "Frames delivered to the guest (RX ring).", v => Interlocked.Read(ref v.RxPackets)),
        ("xnb_vif_rx_bytes_total", true, "Bytes delivered to the guest (RX ring).", v => Interlocked.Read(ref v.RxBytes)),
        ("xnb_vif_rx_dropped_total", true, "Frames for the guest dropped (queue full, too long, not connected, expired, stalled, or queued when its RX ring actor stopped or restarted).", v => Interlocked.Read(ref v.RxDropped)),
        ("xnb_vif_rx_expired_total", true, "Of the frames for the guest dropped, those that waited in its RX queue for the drain timeout (rx_drain_timeout).", v => Interlocked.Read(ref v.RxExpired)),
        ("xnb_vif_rx_stalls_total", true, "Times the guest left frames waiting for RX buffers for the stall timeout (rx_stall_timeout; carrier off).", v => Interlocked.Read(ref v.RxStalls)),
        ("xnb_vif_rx_multicast_filtered_total", true, "Multicast frames for the guest dropped by its multicast filter (it asked for multicast control and had not joined the group).", v => Interlocked.Read(ref v.Multicast.Filtered)),
        ("xnb_vif_rx_gso_checksum_fixup_total", true, "Linux netback's rx_gso_checksum_fixup: GSO frames from the guest without csum_blank (rx is the host's side).", v => Interlocked.Read(ref v.RxGsoChecksumFixup)),
        ("xnb_vif_tx_frag_overflow_total", true, "Linux netback's tx_frag_overflow: frames from the guest with more slots than a Linux skb has frags.", v => Interlocked.Read(ref v.TxFragOverflow)),
        ("xnb_vif_notifications_total", true, "Event-channel notifications sent to the guest.", v => Interlocked.Read(ref v.Notifications)),
        ("xnb_vif_events_total", true, "Event-channel notifications from the guest handled.", v => Interlocked.Read(ref v.Events)),
        ("xnb_vif_spurious_events_total", true, "Notifications from the guest after which its rings had nothing new (throttled when in a row).", v => Interlocked.Read(ref v.SpuriousEvents)),
        ("xnb_vif_faults_total", true, "Protocol faults and connection failures.", v => Interlocked.Read(ref v.Faults)),
        ("xnb_vif_restarts_total", true, "Restarts of the vif's data path after an internal error.", v => Interlocked.Read(ref v.Restarts)),
        ("xnb_vif_bridge_forwarded_total", true, "Frames the bridge handed to the vif alone (connection's port; 0 without one).", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesForwarded) : 0),
        ("xnb_vif_bridge_flooded_total", true, "Copies of broadcast and unknown-unicast frames the bridge handed to the vif.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesFlooded) : 0),
        ("xnb_vif_bridge_dropped_mtu_total", true, "Frames for the vif dropped at the bridge for exceeding its MTU + 14.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedMtu) : 0),
        ("xnb_vif_bridge_dropped_down_total", true, "Frames for the vif dropped at the bridge while it was not Connected.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedDown) : 0),
        ("xnb_vif_bridge_dropped_spoofed_total", true, "Frames from the vif dropped at the bridge for a source MAC other than its configured mac.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedSpoofed) : 0),
        ("xnb_vif_bridge_dropped_backlog_total", true, "Frames for the vif dropped at the bridge because too many were already on their way to it.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedBacklog) : 0),
        ("xnb_vif_bridge_dropped_runt_total", true, "Frames from the vif dropped at the bridge for being shorter than an Ethernet header.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedRunt) : 0),
        ("xnb_vif_bridge_dropped_hairpin_total", true, "Frames from the vif dropped at the bridge because their destination was learned on the vif's own port.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedHairpin) : 0),
        ("xnb_vif_bridge_dropped_no_port_total", true, "Broadcast and unknown-unicast frames from the vif that no other port of its bridge took.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedNoPort) : 0),
        ("xnb_vif_connected", false, "1 when the backend state is Connected.", v => v.State == "Connected" ? 1 : 0),
        ("xnb_vif_disabled", false, "1 when the vif was disabled for a fatal frontend error.", v => v.Disabled ? 1 : 0),
        ("xnb_vif_carrier", false, "1 while the vif's link is up: Connected, not disabled and its guest not stalled.", v => v.Carrier ? 1 : 0),
        ("xnb_vif_multicast_control", false, "1 while the guest's request-multicast-control is on: multicast frames reach it only for the groups it joined.", v => v.Multicast.Control ? 1 : 0),
        ("xnb_vif_rx_stalled", false, "1 while the guest has stalled: frames waited for RX buffers for the stall timeout (carrier off).", v => v.RxStalled ? 1 : 0),
    ];

    // Per queue of a multi-queue vif (a queue label; no series for a one-queue vif, whose totals are the
    // vif's). Names of their own, so that summing a vif's series never counts a frame twice.
    private static readonly (string Name, string Help, Func<VifQueueStatus, long> Value)[] QueueInstruments =
    [
        ("xnb_vif_queue_tx_packets_total", "Of a multi-queue vif, frames received from the guest on the queue's TX ring.", q => Interlocked.Read(ref q.TxPackets)),
        ("xnb_vif_queue_tx_bytes_total", "Of a multi-queue vif, bytes received from the guest on the queue's TX ring.", q => Interlocked.Read(ref q.TxBytes)),
        ("xnb_vif_queue_rx_packets_total", "Of a multi-queue vif, frames delivered to the guest on the queue's RX ring.", q => Interlocked.Read(ref q.RxPackets)),
        ("xnb_vif_queue_rx_bytes_total", "Of a multi-queue vif, bytes delivered to the guest on the queue's RX ring.", q => Interlocked.Read(ref q.RxBytes)),
        ("xnb_vif_queue_rx_dropped_total", "Of a multi-queue vif, frames for the guest dropped by the queue's RX ring.", q => Interlocked.Read(ref q.RxDropped)),
    ];

    // A TAP's counters, for a vif's (--switch tap; 0 otherwise) as for an uplink's.
    private static readonly (string Suffix, string Help, Func<TapCountersDocument, long> Value)[] TapInstruments =
    [
        ("from_host_total", "Frames read from the TAP device.", t => t.FromHost),
        ("to_host_total", "Frames written to the TAP device.", t => t.ToHost),
        ("from_host_dropped_total", "Frames from the TAP device dropped.", t => t.FromHostDropped),
        ("to_host_dropped_total", "Frames for the TAP device dropped.", t => t.ToHostDropped),
    ];

    private void Gauge(string name, string help, Func<long> value) => Meter.CreateObservableGauge(name, value, description: help);

    private List<Measurement<long>> PerVif(Func<VifStatus, long> value)
    {
        var vifs = _registry.Snapshot();
        var measurements = new List<Measurement<long>>(vifs.Count);
        foreach (var v in vifs)
            measurements.Add(new Measurement<long>(value(v), VifTags(v)));
        return measurements;
    }

    private List<Measurement<long>> PerQueue(Func<VifQueueStatus, long> value)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var v in _registry.Snapshot())
        {
            var queues = v.Queues;
            if (queues.Length == 0)
                continue;
            var tags = VifTags(v);
            foreach (var q in queues)
                measurements.Add(new Measurement<long>(value(q), [.. tags, new("queue", (long)q.Index)]));
        }
        return measurements;
    }

    private List<Measurement<long>> PerUplink(Func<TapCountersDocument, long> value)
    {
        var uplinks = _uplinks();
        var measurements = new List<Measurement<long>>(uplinks.Count);
        foreach (var u in uplinks)
            measurements.Add(new Measurement<long>(value(u.Tap), new KeyValuePair<string, object?>("uplink", u.Tap.Device), new KeyValuePair<string, object?>("bridge", u.Bridge)));
        return measurements;
    }

    /// <summary>A vif's labels; a multi-queue vif's per-queue series add <c>queue</c> (decision 81).</summary>
    public static KeyValuePair<string, object?>[] VifTags(VifStatus v)
    {
        var name = v.Id.ToString();
        return
        [
            new("vif", name),
            new("device", v.TapDevice ?? name),
            new("domid", (int)v.Id.DomId),
            new("handle", (long)v.Id.Handle),
        ];
    }

    public void Dispose() => Meter.Dispose();
}
