using System.Globalization;
using System.Text;
using Backend.Actors.Status;
using Backend.Xen.Buffers;

namespace Backend.Host.Admin;

/// <summary>
/// <c>GET /metrics</c>: the vif and uplink counters in Prometheus text exposition format (0.0.4), read
/// through the same documents as <c>GET /status</c>, so both show the same figures under their names.
/// </summary>
public static class PrometheusWriter
{
    private static readonly (string Name, string Type, string Help, Func<VifStatusDocument, long> Value)[] VifMetrics =
    [
        ("xnb_vif_tx_packets_total", "counter", "Frames received from the guest (TX ring).", v => v.Counters.TxPackets),
        ("xnb_vif_tx_bytes_total", "counter", "Bytes received from the guest (TX ring).", v => v.Counters.TxBytes),
        ("xnb_vif_tx_errors_total", "counter", "TX requests answered with an error.", v => v.Counters.TxErrors),
        ("xnb_vif_rx_packets_total", "counter", "Frames delivered to the guest (RX ring).", v => v.Counters.RxPackets),
        ("xnb_vif_rx_bytes_total", "counter", "Bytes delivered to the guest (RX ring).", v => v.Counters.RxBytes),
        ("xnb_vif_rx_dropped_total", "counter", "Frames for the guest dropped (queue full, too long, not connected).", v => v.Counters.RxDropped),
        ("xnb_vif_notifications_total", "counter", "Event-channel notifications sent to the guest.", v => v.Counters.Notifications),
        ("xnb_vif_events_total", "counter", "Event-channel notifications from the guest handled.", v => v.Counters.Events),
        ("xnb_vif_spurious_events_total", "counter", "Notifications from the guest after which its rings had nothing new (throttled when in a row).", v => v.Counters.SpuriousEvents),
        ("xnb_vif_faults_total", "counter", "Protocol faults and connection failures.", v => v.Faults),
        ("xnb_vif_restarts_total", "counter", "Restarts of the vif's data path after an internal error.", v => v.Restarts),
        ("xnb_vif_bridge_forwarded_total", "counter", "Frames the bridge handed to the vif alone (connection's port; 0 without one).", v => v.Port?.Forwarded ?? 0),
        ("xnb_vif_bridge_flooded_total", "counter", "Copies of broadcast and unknown-unicast frames the bridge handed to the vif.", v => v.Port?.Flooded ?? 0),
        ("xnb_vif_bridge_dropped_mtu_total", "counter", "Frames for the vif dropped at the bridge for exceeding its MTU + 14.", v => v.Port?.DroppedMtu ?? 0),
        ("xnb_vif_bridge_dropped_down_total", "counter", "Frames for the vif dropped at the bridge while it was not Connected.", v => v.Port?.DroppedDown ?? 0),
        ("xnb_vif_bridge_dropped_spoofed_total", "counter", "Frames from the vif dropped at the bridge for a source MAC other than its configured mac.", v => v.Port?.DroppedSpoofed ?? 0),
        ("xnb_vif_bridge_dropped_backlog_total", "counter", "Frames for the vif dropped at the bridge because too many were already on their way to it.", v => v.Port?.DroppedBacklog ?? 0),
        ("xnb_vif_connected", "gauge", "1 when the backend state is Connected.", v => v.State == "Connected" ? 1 : 0),
        ("xnb_vif_disabled", "gauge", "1 when the vif was disabled for a fatal frontend error.", v => v.Disabled ? 1 : 0),
    ];

    // Native memory has no finalizer: buffers outstanding while the data path is idle are a leak.
    private static readonly (string Name, string Type, string Help, Func<PacketBufferPool, long> Value)[] BufferMetrics =
    [
        ("xnb_packet_buffers_outstanding", "gauge", "Packet buffers in use: frames in rings, queues and messages (0 when idle).", b => b.Outstanding),
        ("xnb_packet_buffers_kept", "gauge", "Packet buffers held by the pool for reuse.", b => b.Kept),
        ("xnb_packet_buffers_kept_bytes", "gauge", "Native memory the pool holds for reuse (bounded per size class).", b => b.KeptBytes),
        ("xnb_packet_buffers_created_total", "counter", "Packet buffers allocated (native memory).", b => b.Created),
    ];

    // A TAP's counters, for a vif's (--switch tap; 0 otherwise) as for an uplink's.
    private static readonly (string Suffix, string Help, Func<TapCountersDocument, long> Value)[] TapMetrics =
    [
        ("from_host_total", "Frames read from the TAP device.", t => t.FromHost),
        ("to_host_total", "Frames written to the TAP device.", t => t.ToHost),
        ("from_host_dropped_total", "Frames from the TAP device dropped.", t => t.FromHostDropped),
        ("to_host_dropped_total", "Frames for the TAP device dropped.", t => t.ToHostDropped),
    ];

    public static string Write(VifStatusRegistry registry, IReadOnlyList<UplinkStatusDocument> uplinks, PacketBufferPool buffers)
    {
        var vifs = registry.Snapshot().Select(VifStatusDocument.From).ToList();
        var sb = new StringBuilder();
        foreach (var (name, type, help, value) in BufferMetrics)
            sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value(buffers)}\n");
        sb.Append("# HELP xnb_vifs Vifs the daemon serves.\n# TYPE xnb_vifs gauge\n");
        sb.Append(CultureInfo.InvariantCulture, $"xnb_vifs {vifs.Count}\n");
        sb.Append("# HELP xnb_vifs_disabled_total Vifs disabled for fatal frontend errors.\n# TYPE xnb_vifs_disabled_total counter\n");
        sb.Append(CultureInfo.InvariantCulture, $"xnb_vifs_disabled_total {Interlocked.Read(ref registry.DisabledTotal)}\n");
        foreach (var (name, type, help, value) in VifMetrics)
            Append(sb, name, type, help, vifs, VifLabels, value);
        foreach (var (suffix, help, value) in TapMetrics)
            Append(sb, "xnb_vif_tap_" + suffix, "counter", "With --switch tap: " + help, vifs, VifLabels, v => v.Tap is { } t ? value(t) : 0);
        if (uplinks.Count == 0)
            return sb.ToString();
        foreach (var (suffix, help, value) in TapMetrics)
            Append(sb, "xnb_uplink_" + suffix, "counter", "Uplink: " + help, uplinks, u => $"uplink=\"{u.Tap.Device}\",bridge=\"{u.Bridge}\"", u => value(u.Tap));
        return sb.ToString();
    }

    private static string VifLabels(VifStatusDocument v) =>
        string.Create(CultureInfo.InvariantCulture, $"vif=\"{v.Name}\",domid=\"{v.DomId}\",handle=\"{v.Handle}\"");

    private static void Append<T>(StringBuilder sb, string name, string type, string help, IReadOnlyList<T> items, Func<T, string> labels, Func<T, long> value)
    {
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
        foreach (var item in items)
            sb.Append(CultureInfo.InvariantCulture, $"{name}{{{labels(item)}}} {value(item)}\n");
    }
}
