using System.Globalization;
using System.Text;
using Backend.Host.Admin;
using Backend.Xen.XenStore;

namespace Backend.Host.Fleet;

/// <summary>
/// <c>status --fleet</c>: one line per vif of every member (a member without vifs, or whose summary has not
/// arrived yet, gets one line of its own). What another host published is printed escaped, as
/// <see cref="StatusTable"/> does with what a guest wrote.
/// </summary>
public static class FleetTable
{
    public static string Format(FleetDocument fleet)
    {
        var rows = new List<string[]>
        {
            new[] { "HOST", "MEMBER", "REACHABLE", "VIF", "STATE", "CARRIER", "TX PKTS", "TX ERR", "RX PKTS", "RX DROP", "RESTARTS" },
        };
        var vifs = 0;
        var unreachable = 0;
        foreach (var m in fleet.Members)
        {
            if (!m.Reachable)
                unreachable++;
            var host = m.Host is { } h ? $"{PrintableValue.Of(h.Hostname)} ({Endpoint(m.Address)})" : Endpoint(m.Address);
            var reachable = m.Reachable ? "yes" : "NO";
            if (m.Host is not { Vifs.Count: > 0 } summary)
            {
                rows.Add([host, m.Status, reachable, m.Host is null ? "(no summary yet)" : "(no vifs)", "", "", "", "", "", "", ""]);
                continue;
            }
            foreach (var v in summary.Vifs)
            {
                vifs++;
                rows.Add(
                [
                    host, m.Status, reachable, PrintableValue.Of(v.Name), v.Disabled ? "Disabled" : PrintableValue.Of(v.State), v.Carrier ? "on" : "off",
                    Number(v.Counters.TxPackets), Number(v.Counters.TxErrors), Number(v.Counters.RxPackets), Number(v.Counters.RxDropped), Number(v.Restarts),
                ]);
            }
        }
        var sb = new StringBuilder();
        if (fleet.Cluster)
            sb.Append(CultureInfo.InvariantCulture, $"fleet seen from {Endpoint(fleet.Self)}: {fleet.Members.Count} member(s), {unreachable} unreachable, {vifs} vif(s){(fleet.Partial ? " (the other hosts' summaries did not answer in time)" : "")}\n");
        else
            sb.Append(CultureInfo.InvariantCulture, $"cluster off: this host only, {vifs} vif(s)\n");
        StatusTable.Align(rows, sb);
        return sb.ToString();
    }

    /// <summary><c>akka.tcp://xnb@HOST:PORT</c> as <c>HOST:PORT</c>: the system name is the same on every member.</summary>
    internal static string Endpoint(string address)
    {
        var at = address.IndexOf('@', StringComparison.Ordinal);
        return PrintableValue.Of(at >= 0 ? address[(at + 1)..] : address);
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);
}
