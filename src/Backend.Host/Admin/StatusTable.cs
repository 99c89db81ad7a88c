using System.Globalization;
using System.Text;

namespace Backend.Host.Admin;

/// <summary>The <c>status</c> subcommand's table: one line per vif.</summary>
public static class StatusTable
{
    public static string Format(StatusDocument status)
    {
        var rows = new List<string[]>
        {
            new[] { "VIF", "STATE", "FRONTEND", "MAC", "BRIDGE", "MTU", "TX PKTS", "TX ERR", "RX PKTS", "RX DROP", "RESTARTS", "FAULT" },
        };
        foreach (var v in status.Vifs)
        {
            rows.Add(
            [
                v.Name, v.Disabled ? "Disabled" : v.State, v.FrontendState, v.Mac, v.Bridge, v.Mtu.ToString(CultureInfo.InvariantCulture),
                v.Counters.TxPackets.ToString(CultureInfo.InvariantCulture), v.Counters.TxErrors.ToString(CultureInfo.InvariantCulture),
                v.Counters.RxPackets.ToString(CultureInfo.InvariantCulture), v.Counters.RxDropped.ToString(CultureInfo.InvariantCulture),
                v.Restarts.ToString(CultureInfo.InvariantCulture), v.Fault ?? "",
            ]);
        }
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
            for (var i = 0; i < row.Length; i++)
                widths[i] = Math.Max(widths[i], row[i].Length);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{status.Platform}, backend domain {status.BackendDomId}, {status.Vifs.Count} vif(s), {status.VifsDisabled} disabled\n");
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                sb.Append(row[i].PadRight(widths[i]));
                if (i < row.Length - 1)
                    sb.Append("  ");
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
