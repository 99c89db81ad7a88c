using Backend.Xen.Xenbus;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Actors.HostNetwork;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Host.Admin;
using Backend.Host.Metrics;
using Backend.Host.Tests.Support;
using Backend.Xen.Buffers;

namespace Backend.Host.Tests.Metrics;

/// <summary>
/// The meter <c>xnb</c> and <c>GET /metrics</c>: the same figures, read through a listener of the meter
/// (as dotnet-counters and OpenTelemetry read it), through the Prometheus writer and through
/// <c>/status</c>; the names of before kept; the labels admins join on.
/// </summary>
public sealed class XnbMetricsTests
{
    /// <summary>Every name <c>/metrics</c> served before the meter (issue 17 keeps them).</summary>
    public static readonly string[] NamesBeforeTheMeter =
    [
        "xnb_packet_buffers_outstanding", "xnb_packet_buffers_kept", "xnb_packet_buffers_kept_bytes", "xnb_packet_buffers_created_total",
        "xnb_vifs", "xnb_vifs_disabled_total",
        "xnb_vif_tx_packets_total", "xnb_vif_tx_bytes_total", "xnb_vif_tx_errors_total",
        "xnb_vif_rx_packets_total", "xnb_vif_rx_bytes_total", "xnb_vif_rx_dropped_total",
        "xnb_vif_notifications_total", "xnb_vif_events_total", "xnb_vif_spurious_events_total",
        "xnb_vif_faults_total", "xnb_vif_restarts_total",
        "xnb_vif_bridge_forwarded_total", "xnb_vif_bridge_flooded_total", "xnb_vif_bridge_dropped_mtu_total",
        "xnb_vif_bridge_dropped_down_total", "xnb_vif_bridge_dropped_spoofed_total", "xnb_vif_bridge_dropped_backlog_total",
        "xnb_vif_connected", "xnb_vif_disabled",
        "xnb_vif_tap_from_host_total", "xnb_vif_tap_to_host_total", "xnb_vif_tap_from_host_dropped_total", "xnb_vif_tap_to_host_dropped_total",
        "xnb_uplink_from_host_total", "xnb_uplink_to_host_total", "xnb_uplink_from_host_dropped_total", "xnb_uplink_to_host_dropped_total",
    ];

    /// <summary>Each per-vif metric and where <c>/status</c> shows the same figure.</summary>
    private static readonly Dictionary<string, Func<JsonElement, long>> StatusOf = new(StringComparer.Ordinal)
    {
        ["xnb_vif_tx_packets_total"] = v => Counter(v, "txPackets"),
        ["xnb_vif_tx_bytes_total"] = v => Counter(v, "txBytes"),
        ["xnb_vif_tx_errors_total"] = v => Counter(v, "txErrors"),
        ["xnb_vif_rx_packets_total"] = v => Counter(v, "rxPackets"),
        ["xnb_vif_rx_bytes_total"] = v => Counter(v, "rxBytes"),
        ["xnb_vif_rx_dropped_total"] = v => Counter(v, "rxDropped"),
        ["xnb_vif_rx_gso_checksum_fixup_total"] = v => Counter(v, "rxGsoChecksumFixup"),
        ["xnb_vif_tx_frag_overflow_total"] = v => Counter(v, "txFragOverflow"),
        ["xnb_vif_notifications_total"] = v => Counter(v, "notifications"),
        ["xnb_vif_events_total"] = v => Counter(v, "events"),
        ["xnb_vif_spurious_events_total"] = v => Counter(v, "spuriousEvents"),
        ["xnb_vif_faults_total"] = v => v.GetProperty("faults").GetInt64(),
        ["xnb_vif_restarts_total"] = v => v.GetProperty("restarts").GetInt64(),
        ["xnb_vif_bridge_forwarded_total"] = v => Port(v, "forwarded"),
        ["xnb_vif_bridge_flooded_total"] = v => Port(v, "flooded"),
        ["xnb_vif_bridge_dropped_mtu_total"] = v => Port(v, "droppedMtu"),
        ["xnb_vif_bridge_dropped_down_total"] = v => Port(v, "droppedDown"),
        ["xnb_vif_bridge_dropped_spoofed_total"] = v => Port(v, "droppedSpoofed"),
        ["xnb_vif_bridge_dropped_backlog_total"] = v => Port(v, "droppedBacklog"),
        ["xnb_vif_bridge_dropped_runt_total"] = v => Port(v, "droppedRunt"),
        ["xnb_vif_bridge_dropped_hairpin_total"] = v => Port(v, "droppedHairpin"),
        ["xnb_vif_bridge_dropped_no_port_total"] = v => Port(v, "droppedNoPort"),
        ["xnb_vif_tap_from_host_total"] = v => Tap(v, "fromHost"),
        ["xnb_vif_tap_to_host_total"] = v => Tap(v, "toHost"),
        ["xnb_vif_tap_from_host_dropped_total"] = v => Tap(v, "fromHostDropped"),
        ["xnb_vif_tap_to_host_dropped_total"] = v => Tap(v, "toHostDropped"),
        ["xnb_vif_connected"] = v => v.GetProperty("state").GetString() == "Connected" ? 1 : 0,
        ["xnb_vif_disabled"] = v => v.GetProperty("disabled").GetBoolean() ? 1 : 0,
        ["xnb_vif_carrier"] = v => v.GetProperty("carrier").GetBoolean() ? 1 : 0,
        ["xnb_vif_rx_stalled"] = v => v.GetProperty("rxStalled").GetBoolean() ? 1 : 0,
        ["xnb_vif_rx_stalls_total"] = v => Counter(v, "rxStalls"),
        ["xnb_vif_rx_expired_total"] = v => Counter(v, "rxExpired"),
        ["xnb_vif_rx_multicast_filtered_total"] = v => Counter(v, "rxMulticastFiltered"),
        ["xnb_vif_multicast_control"] = v => v.GetProperty("multicast").GetProperty("control").GetBoolean() ? 1 : 0,
    };

    private static long Counter(JsonElement vif, string name) => vif.GetProperty("counters").GetProperty(name).GetInt64();

    private static long Port(JsonElement vif, string name) =>
        vif.GetProperty("port") is { ValueKind: JsonValueKind.Object } p ? p.GetProperty(name).GetInt64() : 0;

    private static long Tap(JsonElement vif, string name) =>
        vif.GetProperty("tap") is { ValueKind: JsonValueKind.Object } t ? t.GetProperty(name).GetInt64() : 0;

    /// <summary>
    /// Three vifs, every counter of each a different number: one on a bridge port, one with a TAP that
    /// the toolstack renamed, one disabled.
    /// </summary>
    private static VifStatusRegistry Registry()
    {
        var registry = new VifStatusRegistry();
        var next = 100L;
        foreach (var (domid, handle) in new (ushort, uint)[] { (5, 0), (6, 1), (9, 0) })
        {
            var v = registry.GetOrAdd(new VifId(domid, handle));
            v.State = "Connected";
            v.TxPackets = ++next; v.TxBytes = ++next; v.TxErrors = ++next; v.RxPackets = ++next; v.RxBytes = ++next;
            v.RxDropped = ++next; v.Notifications = ++next; v.Events = ++next; v.SpuriousEvents = ++next;
            v.RxGsoChecksumFixup = ++next; v.TxFragOverflow = ++next; v.Faults = ++next; v.Restarts = ++next;
            v.RxStalls = ++next; v.RxExpired = ++next; v.Multicast.Filtered = ++next;
            v.Multicast.Control = domid == 6;
            v.Carrier = true;
        }
        var bridged = registry.GetOrAdd(new VifId(5, 0));
        bridged.BridgePort = new BridgePort(1, "vif5.0", ActorRefs.Nobody)
        {
            FramesForwarded = 501, FramesFlooded = 502, FramesDroppedMtu = 503, FramesDroppedDown = 504, FramesDroppedSpoofed = 505, FramesDroppedBacklog = 506,
            FramesDroppedRunt = 507, FramesDroppedHairpin = 508, FramesDroppedNoPort = 509,
        };
        var tapped = registry.GetOrAdd(new VifId(6, 1));
        tapped.TapDevice = "web1-eth1";
        tapped.TapCounters = new TapPortCounters { FromHost = 601, ToHost = 602, FromHostDropped = 603, ToHostDropped = 604 };
        var disabled = registry.GetOrAdd(new VifId(9, 0));
        disabled.Disabled = true;
        disabled.Carrier = false;
        disabled.Fault = "fatal TX ring error";
        // A guest that stalled: carrier off for its own reason.
        tapped.RxStalled = true;
        tapped.Carrier = false;
        registry.DisabledTotal = 1;
        registry.FramesDeadLettered = 7;
        return registry;
    }

    private static readonly UplinkStatusDocument[] Uplinks = [new("lan", new TapCountersDocument("xnbup0", 31, 32, 33, 34, 0))];

    [Fact]
    public void Every_name_served_before_the_meter_is_still_served()
    {
        using var buffers = new PacketBufferPool();
        var metrics = PrometheusText.Parse(Exposition(Registry(), buffers, Uplinks));
        var served = metrics.Samples.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var missing = NamesBeforeTheMeter.Where(n => !served.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"no longer served: {string.Join(", ", missing)}");
    }

    [Fact]
    public void The_meter_metrics_and_status_show_the_same_figures_for_every_vif()
    {
        var registry = Registry();
        using var buffers = new PacketBufferPool();
        using var metrics = new XnbMetrics(registry, () => Uplinks, buffers);
        using var writer = new PrometheusWriter(metrics.Meter);
        var fromMeter = ReadThroughListener(metrics.Meter);
        var exposition = PrometheusText.Parse(writer.Write());
        using var status = JsonDocument.Parse(JsonSerializer.Serialize(StatusDocument.From("sim", 0, registry, Uplinks), AdminJson.Options));
        var vifs = status.RootElement.GetProperty("vifs").EnumerateArray().ToList();

        var perVif = fromMeter.Where(m => m.Labels.ContainsKey("vif")).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(StatusOf.Keys.Order(StringComparer.Ordinal), perVif.Order(StringComparer.Ordinal));
        // The GC's figures are the process's, live: they move between two reads (both must be served).
        foreach (var m in fromMeter)
        {
            if (m.Name.StartsWith("xnb_gc_", StringComparison.Ordinal))
                Assert.True(exposition.Value(m.Series) >= 0, $"{m.Series} is not served by /metrics");
            else
                Assert.True(exposition.Value(m.Series) == m.Value, $"{m.Series}: the meter says {m.Value}, /metrics {exposition.Value(m.Series)}");
        }
        Assert.Equal(fromMeter.Count, exposition.Samples.Count);

        foreach (var vif in vifs)
        {
            var name = vif.GetProperty("name").GetString()!;
            foreach (var (metric, figure) in StatusOf)
            {
                var sample = fromMeter.Single(m => m.Name == metric && m.Labels["vif"] == name);
                Assert.True(sample.Value == figure(vif), $"{metric} of {name}: the meter says {sample.Value}, /status {figure(vif)}");
            }
        }
        Assert.Equal(1, exposition.Value("xnb_vifs_disabled_total{}"));
        Assert.Equal(7, exposition.Value("xnb_frames_dead_lettered_total{}"));
        Assert.Equal(7, status.RootElement.GetProperty("framesDeadLettered").GetInt64());
        Assert.Equal(3, exposition.Value("xnb_vifs{}"));
        Assert.Equal(0, exposition.Value("xnb_vif_carrier{device=\"vif9.0\",domid=\"9\",handle=\"0\",vif=\"vif9.0\"}"));
        Assert.Equal(1, exposition.Value("xnb_vif_carrier{device=\"vif5.0\",domid=\"5\",handle=\"0\",vif=\"vif5.0\"}"));
        Assert.Equal(0, exposition.Value("xnb_vif_carrier{device=\"web1-eth1\",domid=\"6\",handle=\"1\",vif=\"vif6.1\"}"));
        Assert.Equal(1, exposition.Value("xnb_vif_rx_stalled{device=\"web1-eth1\",domid=\"6\",handle=\"1\",vif=\"vif6.1\"}"));
        Assert.Equal(1, exposition.Value($"xnb_build_info{{version=\"{XnbMetrics.Version}\"}}"));
        Assert.Equal(32, exposition.Value("xnb_uplink_to_host_total{bridge=\"lan\",uplink=\"xnbup0\"}"));
    }

    [Fact]
    public void Every_vif_series_carries_vif_device_domid_and_handle_and_device_is_the_host_interface()
    {
        using var buffers = new PacketBufferPool();
        var exposition = PrometheusText.Parse(Exposition(Registry(), buffers, []));
        var vifSeries = exposition.Samples.Where(s => s.Name.StartsWith("xnb_vif_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(vifSeries);
        Assert.All(vifSeries, s => Assert.Equal(["device", "domid", "handle", "vif"], s.Labels.Keys.Order(StringComparer.Ordinal)));
        var tapped = vifSeries.First(s => s.Labels["vif"] == "vif6.1");
        Assert.Equal("web1-eth1", tapped.Labels["device"]);
        Assert.Equal("6", tapped.Labels["domid"]);
        Assert.Equal("1", tapped.Labels["handle"]);
        Assert.Equal("vif5.0", vifSeries.First(s => s.Labels["vif"] == "vif5.0").Labels["device"]);
    }

    [Fact]
    public void A_vif_that_is_gone_is_gone_from_the_next_scrape()
    {
        var registry = Registry();
        using var buffers = new PacketBufferPool();
        using var metrics = new XnbMetrics(registry, () => [], buffers);
        using var writer = new PrometheusWriter(metrics.Meter);
        Assert.Contains("vif=\"vif6.1\"", writer.Write(), StringComparison.Ordinal);
        registry.Remove(new VifId(6, 1));
        var after = writer.Write();
        Assert.DoesNotContain("vif=\"vif6.1\"", after, StringComparison.Ordinal);
        Assert.Contains("xnb_vifs 2\n", after, StringComparison.Ordinal);
    }

    [Fact]
    public void Label_values_are_escaped_as_the_text_format_says()
    {
        using var buffers = new PacketBufferPool();
        UplinkStatusDocument[] uplinks = [new("a\"b\\c\nd", new TapCountersDocument("up0", 1, 2, 3, 4, 0))];
        var text = Exposition(new VifStatusRegistry(), buffers, uplinks);
        Assert.Contains("xnb_uplink_from_host_total{uplink=\"up0\",bridge=\"a\\\"b\\\\c\\nd\"} 1\n", text, StringComparison.Ordinal);
        Assert.Equal("a\"b\\c\nd", PrometheusText.Parse(text).Samples.First(s => s.Name == "xnb_uplink_from_host_total").Labels["bridge"]);
    }

    [Fact]
    public void Counters_are_typed_counter_and_the_rest_gauge_each_with_help()
    {
        using var buffers = new PacketBufferPool();
        var exposition = PrometheusText.Parse(Exposition(Registry(), buffers, Uplinks));
        foreach (var name in exposition.Samples.Select(s => s.Name).Distinct())
        {
            Assert.Equal(name.EndsWith("_total", StringComparison.Ordinal) ? "counter" : "gauge", exposition.Types[name]);
            Assert.False(string.IsNullOrWhiteSpace(exposition.Help[name]), $"{name} has no HELP text");
        }
    }

    /// <summary>What <c>GET /metrics</c> serves for these figures: the meter read by the Prometheus writer.</summary>
    internal static string Exposition(VifStatusRegistry registry, PacketBufferPool buffers, IReadOnlyList<UplinkStatusDocument> uplinks)
    {
        using var metrics = new XnbMetrics(registry, () => uplinks, buffers);
        using var writer = new PrometheusWriter(metrics.Meter);
        return writer.Write();
    }

    /// <summary>The meter's measurements as any other listener gets them (dotnet-counters and OpenTelemetry use one).</summary>
    private static List<PrometheusText.Sample> ReadThroughListener(Meter meter)
    {
        var samples = new List<PrometheusText.Sample>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, tag) in tags)
                labels[key] = Convert.ToString(tag, CultureInfo.InvariantCulture)!;
            samples.Add(new PrometheusText.Sample(instrument.Name, labels, value));
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return samples;
    }
}
