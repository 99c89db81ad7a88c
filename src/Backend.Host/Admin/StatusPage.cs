using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace Backend.Host.Admin;

/// <summary>
/// <c>GET /</c>: the host's vifs as a server-rendered HTML page (no script, no front-end build): state,
/// frontend state, carrier, rates, drops, errors, faults and restarts, the fault text, and the uplinks.
/// It refreshes itself every few seconds; rates are the counters' change between two refreshes
/// (<see cref="StatusPageSamples"/>). Every string that a guest or the toolstack wrote (fault text, bridge
/// name, MAC, features) is HTML-encoded.
/// </summary>
public static class StatusPage
{
    public const string ContentType = "text/html; charset=utf-8";

    /// <summary>Seconds between refreshes unless the URL says (<c>?refresh=N</c>, 1 to 300).</summary>
    public const int DefaultRefreshSeconds = 5;

    /// <param name="fleet">With the cluster on, every member: rendered below this host's own tables.</param>
    public static string Render(
        StatusDocument status, string host, string version, StatusPageSamples.Sample now, StatusPageSamples.Sample? since, double seconds, int refreshSeconds,
        Fleet.FleetDocument? fleet = null)
    {
        var html = HtmlEncoder.Default;
        var sb = new StringBuilder(4096);
        var connected = 0;
        var carrierOff = 0;
        var disabled = 0;
        foreach (var v in status.Vifs)
        {
            if (v.State == "Connected")
                connected++;
            if (!v.Carrier)
                carrierOff++;
            if (v.Disabled)
                disabled++;
        }

        sb.Append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append(CultureInfo.InvariantCulture, $"<meta http-equiv=\"refresh\" content=\"{refreshSeconds}; url=/?since={now.Id}&amp;refresh={refreshSeconds}\">");
        sb.Append("<title>xnb on ").Append(html.Encode(host)).Append("</title>");
        sb.Append(Style);
        sb.Append("</head><body>\n<header><h1>xnb on ").Append(html.Encode(host)).Append("</h1><p>");
        sb.Append(CultureInfo.InvariantCulture,
            $"version {html.Encode(version)} · {html.Encode(status.Platform)} · backend domain {status.BackendDomId} · ");
        sb.Append(CultureInfo.InvariantCulture,
            $"<span id=\"summary\">{status.Vifs.Count} vifs, {connected} connected, {carrierOff} carrier off, {disabled} disabled</span> · ");
        sb.Append(CultureInfo.InvariantCulture, $"vifs disabled since start: {status.VifsDisabled} · frames dropped to stopped actors: {status.FramesDeadLettered} · ");
        sb.Append(since is null
            ? "rates from the next refresh"
            : string.Create(CultureInfo.InvariantCulture, $"rates over the last {seconds:0.0} s"));
        sb.Append("</p></header>\n");

        sb.Append("<table id=\"vifs\"><thead><tr>");
        foreach (var (column, title, tip) in Columns)
            sb.Append("<th data-col=\"").Append(column).Append("\" title=\"").Append(tip).Append("\">").Append(title).Append("</th>");
        sb.Append("</tr></thead><tbody>\n");
        if (status.Vifs.Count == 0)
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td colspan=\"{Columns.Length}\" class=\"empty\">no vifs</td></tr>\n");
        foreach (var v in status.Vifs)
        {
            var c = v.Counters;
            VifCountersDocument? before = null;
            since?.Vifs.TryGetValue(v.Name, out before);
            var rowClass = v.Disabled ? "disabled" : v.Carrier ? "up" : "down";
            sb.Append("<tr data-vif=\"").Append(html.Encode(v.Name)).Append("\" class=\"").Append(rowClass).Append("\">");
            Cell(sb, "vif", html.Encode(v.Name));
            Cell(sb, "state", html.Encode(v.State));
            Cell(sb, "frontend", html.Encode(v.FrontendState));
            // Why it is off when the guest is the reason: it stopped taking frames (rx_stall_timeout).
            Cell(sb, "carrier", v.Carrier ? "on" : v.RxStalled ? "off (rx stalled)" : "off");
            Cell(sb, "mac", html.Encode(v.Mac));
            Cell(sb, "bridge", html.Encode(v.Tap?.Device ?? v.Bridge));
            Cell(sb, "mtu", v.Mtu.ToString(CultureInfo.InvariantCulture));
            Cell(sb, "tx-pps", Rate(c.TxPackets, before?.TxPackets, seconds, 1));
            Cell(sb, "tx-bps", Rate(c.TxBytes, before?.TxBytes, seconds, 8));
            Cell(sb, "rx-pps", Rate(c.RxPackets, before?.RxPackets, seconds, 1));
            Cell(sb, "rx-bps", Rate(c.RxBytes, before?.RxBytes, seconds, 8));
            Cell(sb, "rx-drops", Rate(c.RxDropped, before?.RxDropped, seconds, 1));
            Cell(sb, "tx-errors", c.TxErrors.ToString(CultureInfo.InvariantCulture));
            Cell(sb, "rx-dropped", c.RxDropped.ToString(CultureInfo.InvariantCulture));
            Cell(sb, "faults", v.Faults.ToString(CultureInfo.InvariantCulture));
            Cell(sb, "restarts", v.Restarts.ToString(CultureInfo.InvariantCulture));
            Cell(sb, "fault", html.Encode(v.Fault ?? ""));
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody></table>\n");

        if (status.Uplinks.Count > 0)
        {
            sb.Append("<h2>Uplinks</h2><table id=\"uplinks\"><thead><tr><th data-col=\"tap\">TAP</th><th data-col=\"bridge\">bridge</th><th>from host</th><th>to host</th><th>from host dropped</th><th>to host dropped</th></tr></thead><tbody>\n");
            foreach (var u in status.Uplinks)
            {
                sb.Append("<tr>");
                Cell(sb, "tap", html.Encode(u.Tap.Device));
                Cell(sb, "bridge", html.Encode(u.Bridge));
                Cell(sb, "from-host", u.Tap.FromHost.ToString(CultureInfo.InvariantCulture));
                Cell(sb, "to-host", u.Tap.ToHost.ToString(CultureInfo.InvariantCulture));
                Cell(sb, "from-host-dropped", u.Tap.FromHostDropped.ToString(CultureInfo.InvariantCulture));
                Cell(sb, "to-host-dropped", u.Tap.ToHostDropped.ToString(CultureInfo.InvariantCulture));
                sb.Append("</tr>\n");
            }
            sb.Append("</tbody></table>\n");
        }
        if (fleet is { Cluster: true })
            FleetSection(sb, fleet);
        sb.Append("<footer>TX is from the guest, RX to the guest (the ring's names, as netif.h and Linux netback's rings). ")
            .Append("<a href=\"/status\">/status</a> (JSON) · <a href=\"/metrics\">/metrics</a> (Prometheus)</footer>\n</body></html>\n");
        return sb.ToString();
    }

    /// <summary>
    /// Every member of the fleet, a row per vif (counters since each vif appeared: the other hosts'
    /// summaries are not sampled here for rates). Everything another host published is HTML-encoded.
    /// </summary>
    private static void FleetSection(StringBuilder sb, Fleet.FleetDocument fleet)
    {
        var html = HtmlEncoder.Default;
        sb.Append(CultureInfo.InvariantCulture, $"<h2>Fleet: {fleet.Members.Count} host(s)</h2>");
        sb.Append("<table id=\"fleet\"><thead><tr><th data-col=\"host\">host</th><th data-col=\"member\">member</th><th data-col=\"reachable\">reachable</th>")
            .Append("<th data-col=\"vif\">vif</th><th data-col=\"state\">state</th><th data-col=\"carrier\">carrier</th>")
            .Append("<th>TX packets</th><th>RX packets</th><th>RX dropped</th><th>restarts</th></tr></thead><tbody>\n");
        foreach (var m in fleet.Members)
        {
            var name = html.Encode(m.Host is { } h ? $"{h.Hostname} ({Fleet.FleetTable.Endpoint(m.Address)})" : Fleet.FleetTable.Endpoint(m.Address));
            var vifs = m.Host?.Vifs ?? [];
            var rowClass = m.Reachable ? "up" : "down";
            if (vifs.Count == 0)
            {
                sb.Append("<tr class=\"").Append(rowClass).Append("\" data-host=\"").Append(html.Encode(m.Address)).Append("\">");
                Cell(sb, "host", name);
                Cell(sb, "member", html.Encode(m.Status));
                Cell(sb, "reachable", m.Reachable ? "yes" : "no");
                sb.Append("<td colspan=\"7\" class=\"empty\">").Append(m.Host is null ? "no summary yet" : "no vifs").Append("</td></tr>\n");
                continue;
            }
            foreach (var v in vifs)
            {
                sb.Append("<tr class=\"").Append(v.Disabled ? "disabled" : rowClass).Append("\" data-host=\"").Append(html.Encode(m.Address))
                    .Append("\" data-vif=\"").Append(html.Encode(v.Name)).Append("\">");
                Cell(sb, "host", name);
                Cell(sb, "member", html.Encode(m.Status));
                Cell(sb, "reachable", m.Reachable ? "yes" : "no");
                Cell(sb, "vif", html.Encode(v.Name));
                Cell(sb, "state", v.Disabled ? "Disabled" : html.Encode(v.State));
                Cell(sb, "carrier", v.Carrier ? "on" : "off");
                Cell(sb, "tx-packets", v.Counters.TxPackets.ToString(CultureInfo.InvariantCulture));
                Cell(sb, "rx-packets", v.Counters.RxPackets.ToString(CultureInfo.InvariantCulture));
                Cell(sb, "rx-dropped", v.Counters.RxDropped.ToString(CultureInfo.InvariantCulture));
                Cell(sb, "restarts", v.Restarts.ToString(CultureInfo.InvariantCulture));
                sb.Append("</tr>\n");
            }
        }
        sb.Append("</tbody></table>\n");
    }

    /// <summary>The vif table's columns: the cells' data-col, the heading, and what it counts.</summary>
    private static readonly (string Column, string Title, string Tip)[] Columns =
    [
        ("vif", "vif", "vif&lt;domid&gt;.&lt;handle&gt;"),
        ("state", "state", "the backend's xenbus state"),
        ("frontend", "frontend", "the frontend's xenbus state"),
        ("carrier", "carrier", "link up: Connected, not disabled, guest not stalled (rx_stall_timeout)"),
        ("mac", "MAC", "the vif's configured MAC"),
        ("bridge", "bridge or TAP", "its bridge, or its TAP device with --switch tap"),
        ("mtu", "MTU", "the vif's MTU"),
        ("tx-pps", "TX pkt/s", "frames from the guest per second (TX ring)"),
        ("tx-bps", "TX bit/s", "bits from the guest per second"),
        ("rx-pps", "RX pkt/s", "frames to the guest per second (RX ring)"),
        ("rx-bps", "RX bit/s", "bits to the guest per second"),
        ("rx-drops", "RX drops/s", "frames for the guest dropped per second"),
        ("tx-errors", "TX errors", "TX requests answered with an error, since the vif appeared"),
        ("rx-dropped", "RX dropped", "frames for the guest dropped, since the vif appeared"),
        ("faults", "faults", "protocol faults and connection failures"),
        ("restarts", "restarts", "restarts of the vif's data path"),
        ("fault", "fault", "why the vif was disabled or failed to connect"),
    ];

    private static void Cell(StringBuilder sb, string column, string encoded) =>
        sb.Append("<td data-col=\"").Append(column).Append("\">").Append(encoded).Append("</td>");

    /// <summary>
    /// The counter's change per second, times <paramref name="scale"/> (8: bytes to bits), in SI units;
    /// a dash without an earlier sample of this vif, or when the counter went back (a vif re-created).
    /// </summary>
    internal static string Rate(long now, long? before, double seconds, int scale)
    {
        if (before is not { } b || seconds <= 0 || now < b)
            return "–";
        var rate = (now - b) * scale / seconds;
        return rate switch
        {
            >= 1e9 => string.Create(CultureInfo.InvariantCulture, $"{rate / 1e9:0.00} G"),
            >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{rate / 1e6:0.00} M"),
            >= 1e4 => string.Create(CultureInfo.InvariantCulture, $"{rate / 1e3:0.0} k"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{rate:0.0}"),
        };
    }

    private const string Style = """
        <style>
        body{font:13px/1.4 system-ui,sans-serif;margin:1.2em;color:#222}
        h1{font-size:1.35em;margin:0 0 .2em}h2{font-size:1.1em;margin-top:1.5em}
        header p{margin:0 0 1em;color:#555}
        table{border-collapse:collapse}
        th,td{padding:.25em .55em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
        th{background:#f4f4f4;font-weight:600;vertical-align:bottom;white-space:normal}
        [data-col=vif],[data-col=state],[data-col=frontend],[data-col=carrier],[data-col=mac],[data-col=bridge],[data-col=fault],[data-col=tap],[data-col=host],[data-col=member],[data-col=reachable]{text-align:left}
        td[data-col=fault]{white-space:normal;color:#a00;max-width:30em}
        tr.up td[data-col=carrier]{color:#080}
        tr.down td[data-col=carrier]{color:#b60;font-weight:600}
        tr.disabled{background:#fdecea}tr.disabled td[data-col=state],tr.disabled td[data-col=carrier]{color:#a00;font-weight:600}
        td.empty{text-align:center;color:#777}
        footer{margin-top:1.5em;color:#777;font-size:.9em}
        </style>
        """;
}
