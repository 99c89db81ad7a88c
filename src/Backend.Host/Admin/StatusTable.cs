using System.Globalization;
using System.Text;
using Backend.Xen.XenStore;

namespace Backend.Host.Admin;

/// <summary>
/// The <c>status</c> subcommand's table: one line per vif. It goes to an administrator's terminal, so what a
/// guest or toolstack wrote (a bridge name, a fault quoting a key) is printed escaped.
/// </summary>
public static class StatusTable
{
    private const int MaxFaultLength = 256;

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
                v.Name, v.Disabled ? "Disabled" : v.State, v.FrontendState, v.Mac, PrintableValue.Of(v.Bridge), v.Mtu.ToString(CultureInfo.InvariantCulture),
                v.Counters.TxPackets.ToString(CultureInfo.InvariantCulture), v.Counters.TxErrors.ToString(CultureInfo.InvariantCulture),
                v.Counters.RxPackets.ToString(CultureInfo.InvariantCulture), v.Counters.RxDropped.ToString(CultureInfo.InvariantCulture),
                v.Restarts.ToString(CultureInfo.InvariantCulture), PrintableValue.Of(v.Fault ?? "", MaxFaultLength),
            ]);
        }
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{status.Platform}, backend domain {status.BackendDomId}, {status.Vifs.Count} vif(s), {status.VifsDisabled} disabled\n");
        Align(rows, sb);
        return sb.ToString();
    }

    /// <summary>Appends <paramref name="rows"/> (the first is the header) in columns two spaces apart.</summary>
    internal static void Align(List<string[]> rows, StringBuilder sb)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
            for (var i = 0; i < row.Length; i++)
                widths[i] = Math.Max(widths[i], row[i].Length);
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
    }
}
