using System.Globalization;
using System.Text;
using Backend.Actors.Status;

namespace Backend.Host.Admin;

/// <summary><c>GET /metrics</c>: the vif and uplink counters in Prometheus text exposition format (0.0.4).</summary>
public static class PrometheusWriter
{
    private static readonly (string Name, string Type, string Help, Func<VifStatus, long> Value)[] Metrics =
    [
        ("xnb_vif_tx_packets_total", "counter", "Frames received from the guest (TX ring).", v => Interlocked.Read(ref v.TxPackets)),
        ("xnb_vif_tx_bytes_total", "counter", "Bytes received from the guest (TX ring).", v => Interlocked.Read(ref v.TxBytes)),
        ("xnb_vif_tx_errors_total", "counter", "TX requests answered with an error.", v => Interlocked.Read(ref v.TxErrors)),
        ("xnb_vif_rx_packets_total", "counter", "Frames delivered to the guest (RX ring).", v => Interlocked.Read(ref v.RxPackets)),
        ("xnb_vif_rx_bytes_total", "counter", "Bytes delivered to the guest (RX ring).", v => Interlocked.Read(ref v.RxBytes)),
        ("xnb_vif_rx_dropped_total", "counter", "Frames for the guest dropped (queue full, too long, not connected).", v => Interlocked.Read(ref v.RxDropped)),
        ("xnb_vif_notifications_total", "counter", "Event-channel notifications sent to the guest.", v => Interlocked.Read(ref v.Notifications)),
        ("xnb_vif_faults_total", "counter", "Protocol faults and connection failures.", v => Interlocked.Read(ref v.Faults)),
        ("xnb_vif_restarts_total", "counter", "Restarts of the vif's data path after an internal error.", v => Interlocked.Read(ref v.Restarts)),
        ("xnb_vif_bridge_forwarded_total", "counter", "Frames the bridge handed to the vif alone (connection's port; 0 without one).", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesForwarded) : 0),
        ("xnb_vif_bridge_flooded_total", "counter", "Copies of broadcast and unknown-unicast frames the bridge handed to the vif.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesFlooded) : 0),
        ("xnb_vif_bridge_dropped_mtu_total", "counter", "Frames for the vif dropped at the bridge for exceeding its MTU + 14.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedMtu) : 0),
        ("xnb_vif_bridge_dropped_down_total", "counter", "Frames for the vif dropped at the bridge while it was not Connected.", v => v.BridgePort is { } p ? Interlocked.Read(ref p.FramesDroppedDown) : 0),
        ("xnb_vif_tap_from_host_total", "counter", "With --switch tap: frames read from the vif's TAP device (0 otherwise).", v => v.TapCounters is { } t ? Interlocked.Read(ref t.FromHost) : 0),
        ("xnb_vif_tap_to_host_total", "counter", "With --switch tap: frames written to the vif's TAP device.", v => v.TapCounters is { } t ? Interlocked.Read(ref t.ToHost) : 0),
        ("xnb_vif_tap_from_host_dropped_total", "counter", "With --switch tap: frames from the TAP device dropped.", v => v.TapCounters is { } t ? Interlocked.Read(ref t.FromHostDropped) : 0),
        ("xnb_vif_tap_to_host_dropped_total", "counter", "With --switch tap: frames for the TAP device dropped.", v => v.TapCounters is { } t ? Interlocked.Read(ref t.ToHostDropped) : 0),
        ("xnb_vif_connected", "gauge", "1 when the backend state is Connected.", v => v.State == "Connected" ? 1 : 0),
        ("xnb_vif_disabled", "gauge", "1 when the vif was disabled for a fatal frontend error.", v => v.Disabled ? 1 : 0),
    ];

    private static readonly (string Name, string Help, Func<TapCountersDocument, long> Value)[] UplinkMetrics =
    [
        ("xnb_uplink_from_host_total", "Frames read from the uplink's TAP device.", t => t.FromHost),
        ("xnb_uplink_to_host_total", "Frames written to the uplink's TAP device.", t => t.ToHost),
        ("xnb_uplink_from_host_dropped_total", "Frames from the uplink's TAP device dropped.", t => t.FromHostDropped),
        ("xnb_uplink_to_host_dropped_total", "Frames for the uplink's TAP device dropped.", t => t.ToHostDropped),
    ];

    public static string Write(VifStatusRegistry registry, IReadOnlyList<UplinkStatusDocument> uplinks)
    {
        var vifs = registry.Snapshot();
        var sb = new StringBuilder();
        sb.Append("# HELP xnb_vifs Vifs the daemon serves.\n# TYPE xnb_vifs gauge\n");
        sb.Append(CultureInfo.InvariantCulture, $"xnb_vifs {vifs.Count}\n");
        sb.Append("# HELP xnb_vifs_disabled_total Vifs disabled for fatal frontend errors.\n# TYPE xnb_vifs_disabled_total counter\n");
        sb.Append(CultureInfo.InvariantCulture, $"xnb_vifs_disabled_total {Interlocked.Read(ref registry.DisabledTotal)}\n");
        foreach (var (name, type, help, value) in Metrics)
        {
            sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
            foreach (var v in vifs)
                sb.Append(CultureInfo.InvariantCulture, $"{name}{{vif=\"{v.Id}\",domid=\"{v.Id.DomId}\",handle=\"{v.Id.Handle}\"}} {value(v)}\n");
        }
        if (uplinks.Count == 0)
            return sb.ToString();
        foreach (var (name, help, value) in UplinkMetrics)
        {
            sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n");
            foreach (var u in uplinks)
                sb.Append(CultureInfo.InvariantCulture, $"{name}{{uplink=\"{u.Tap.Device}\",bridge=\"{u.Bridge}\"}} {value(u.Tap)}\n");
        }
        return sb.ToString();
    }
}
