using System.Globalization;
using System.Text;

namespace Backend.Host.Soak;

/// <summary>report.md of a soak run: the verdict, each check, the faults as they ran, the figures.</summary>
internal static class SoakMarkdown
{
    public static string Format(SoakReport r)
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.AppendLine(ci, $"# Soak: {(r.Passed ? "PASSED" : "FAILED")}");
        sb.AppendLine();
        sb.AppendLine(ci, $"Seed {r.Seed} (`soak --seed {r.Seed} --seconds {r.Seconds:F0}` replays the schedule), {r.Seconds:F0} s of faults ({r.WallSeconds:F0} s in all), started {r.StartedUtc:u}; {r.Guests} guests streaming {r.Rate} frames/s each with a window of {r.Window}; {r.DaemonIncarnations} daemon incarnation(s).");
        sb.AppendLine();
        sb.AppendLine("| check | result | figures |");
        sb.AppendLine("|---|---|---|");
        foreach (var c in r.Checks)
            sb.AppendLine(ci, $"| {c.Name} | {(c.Passed ? "ok" : "**FAILED**")} | {c.Detail.Replace("|", "\\|", StringComparison.Ordinal)} |");
        sb.AppendLine();
        sb.AppendLine("| figure | value |");
        sb.AppendLine("|---|---|");
        var sent = r.Streams.Sum(s => s.Sent);
        var excused = string.Join(", ", r.Streams.SelectMany(s => s.ExcusedLost).GroupBy(e => e.Key).Select(g => $"{g.Key} {g.Sum(e => e.Value)}"));
        sb.AppendLine(ci, $"| frames sent / received | {sent} / {r.Streams.Sum(s => s.Received)} |");
        sb.AppendLine(ci, $"| lost (not excused) / corrupted / duplicated / out of order | {r.Streams.Sum(s => s.Lost)} / {r.Streams.Sum(s => s.Corrupted)} / {r.Streams.Sum(s => s.Duplicates)} / {r.Streams.Sum(s => s.OutOfOrder)} |");
        sb.AppendLine(ci, $"| lost inside excused faults, by class | {(excused.Length == 0 ? "none" : excused)} |");
        sb.AppendLine(ci, $"| repeated inside excused faults | {r.Streams.Sum(s => s.ExcusedDuplicates)} |");
        sb.AppendLine(ci, $"| tree restart (ms) | {Percentiles(r.TreeRestartMs, "F2")} |");
        sb.AppendLine(ci, $"| round trip, all pings (us) | {Percentiles(r.RoundTripUs, "F0")} |");
        sb.AppendLine(ci, $"| round trip of other guests during a neighbour's tree restart (us) | {Percentiles(r.RoundTripDuringNeighbourRestartUs, "F0")} |");
        sb.AppendLine(ci, $"| daemon VmRSS baseline / end (KiB) | {r.Baseline?.RssKiB} / {r.End?.RssKiB} |");
        sb.AppendLine(ci, $"| of which anonymous (heap, buffers, runtime) / file-backed (code pages) / shmem (KiB) | {r.Baseline?.RssAnonKiB} / {r.Baseline?.RssFileKiB} / {r.Baseline?.RssShmemKiB} at the baseline, {r.End?.RssAnonKiB} / {r.End?.RssFileKiB} / {r.End?.RssShmemKiB} at the end |");
        sb.AppendLine(ci, $"| the daemon's managed heap / GC committed / packet-buffer pool kept (KiB) | {KiB(r.Baseline?.GcHeapBytes)} / {KiB(r.Baseline?.GcCommittedBytes)} / {KiB(r.Baseline?.PoolKeptBytes)} at the baseline, {KiB(r.End?.GcHeapBytes)} / {KiB(r.End?.GcCommittedBytes)} / {KiB(r.End?.PoolKeptBytes)} at the end |");
        sb.AppendLine(ci, $"| daemon fds baseline / end | {r.Baseline?.Fds} / {r.End?.Fds} |");
        sb.AppendLine();
        sb.AppendLine("| at (s) | fault | ms | outcome |");
        sb.AppendLine("|---|---|---|---|");
        foreach (var f in r.Faults)
            sb.AppendLine(ci, $"| {f.StartedAt:F1} | {f.Fault} | {f.Milliseconds:F0}{(f.TreeRestartMs is { } t ? string.Create(ci, $" (restart {t:F2})") : "")} | {f.Outcome.Replace("|", "\\|", StringComparison.Ordinal)} |");
        foreach (var log in r.DaemonLogs)
        {
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine(log);
            sb.AppendLine("```");
        }
        return sb.ToString();
    }

    private static string KiB(long? bytes) => bytes is { } b and >= 0 ? (b / 1024).ToString(CultureInfo.InvariantCulture) : "?";

    private static string Percentiles(SoakPercentiles? p, string format) =>
        p is null ? "no samples" : $"p50 {p.P50.ToString(format, CultureInfo.InvariantCulture)}, p99 {p.P99.ToString(format, CultureInfo.InvariantCulture)}, max {p.Max.ToString(format, CultureInfo.InvariantCulture)} ({p.Count} samples)";
}
