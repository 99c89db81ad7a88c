using System.Globalization;
using System.Text;

namespace Backend.Host.Bench;

/// <summary>The report as Markdown tables: every daemon figure beside cback's from the same run, and their ratio.</summary>
internal static class BenchMarkdown
{
    public static string Format(BenchReport report)
    {
        var md = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        md.AppendLine(c, $"Measured {report.StartedUtc:yyyy-MM-dd HH:mm} UTC on {report.Machine}.");
        md.AppendLine();
        md.AppendLine("### Windowed stream (256 frames in flight per vif, lossless)");
        md.AppendLine();
        md.AppendLine("| pairs | frame | daemon frames/s | daemon Gbit/s | cback frames/s | cback Gbit/s | daemon / cback | lost (d/c) |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var d in Daemon(report, "windowed"))
        {
            var cb = report.CbackFor(d);
            md.AppendLine(c, $"| {d.Pairs} | {Size(d)} | {Rate(d.FramesPerSecond)} | {d.Gbps:F2} | {Rate(cb?.FramesPerSecond)} | {Fixed(cb?.Gbps)} | {Ratio(d.FramesPerSecond, cb?.FramesPerSecond)} | {d.Lost}/{cb?.Lost.ToString() ?? "–"} |");
        }
        md.AppendLine();
        md.AppendLine("### Unpaced stream (senders as fast as their TX ring allows)");
        md.AppendLine();
        md.AppendLine("| pairs | frame | daemon sent/s | daemon delivered/s | daemon drops | cback sent/s | cback delivered/s | cback drops | delivered daemon / cback |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var d in Daemon(report, "unpaced"))
        {
            var cb = report.CbackFor(d);
            md.AppendLine(c, $"| {d.Pairs} | {Size(d)} | {Rate(d.SentPerSecond)} | {Rate(d.FramesPerSecond)} | {d.Drops} | {Rate(cb?.SentPerSecond)} | {Rate(cb?.FramesPerSecond)} | {cb?.Drops.ToString() ?? "–"} | {Ratio(d.FramesPerSecond, cb?.FramesPerSecond)} |");
        }
        md.AppendLine();
        md.AppendLine("### Ping-pong round trip (one frame in flight per pair)");
        md.AppendLine();
        md.AppendLine("| pairs | frame | daemon p50 µs | daemon p99 µs | cback p50 µs | cback p99 µs | p50 daemon / cback | p99 daemon / cback |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var d in Daemon(report, "pingpong"))
        {
            var cb = report.CbackFor(d);
            md.AppendLine(c, $"| {d.Pairs} | {Size(d)} | {Fixed(d.P50Us, 0)} | {Fixed(d.P99Us, 0)} | {Fixed(cb?.P50Us, 0)} | {Fixed(cb?.P99Us, 0)} | {Ratio(d.P50Us, cb?.P50Us)} | {Ratio(d.P99Us, cb?.P99Us)} |");
        }
        md.AppendLine();
        md.AppendLine("### Backend CPU (utime + stime of the backend process over each run, warm-up and drain included, per frame delivered)");
        md.AppendLine();
        md.AppendLine("| workload | pairs | frame | daemon CPU s | daemon µs/frame | cback CPU s | cback µs/frame | µs/frame daemon / cback | ctx switches /1000 frames (d/c) |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var d in report.Results.Where(r => r.Backend == "daemon").OrderBy(r => r.Workload, StringComparer.Ordinal).ThenBy(r => r.Pairs).ThenBy(r => r.Size))
        {
            var cb = report.CbackFor(d);
            md.AppendLine(c, $"| {d.Workload} | {d.Pairs} | {Size(d)} | {Fixed(d.Cpu?.CpuSeconds)} | {Fixed(d.Cpu?.UsPerFrame, 1)} | {Fixed(cb?.Cpu?.CpuSeconds)} | {Fixed(cb?.Cpu?.UsPerFrame, 1)} | " +
                $"{Ratio(d.Cpu?.UsPerFrame, cb?.Cpu?.UsPerFrame)} | {Fixed(d.Cpu?.ContextSwitchesPer1000Frames, 0)}/{Fixed(cb?.Cpu?.ContextSwitchesPer1000Frames, 0)} |");
        }
        md.AppendLine();
        md.AppendLine("### The protocol core alone, and memcpy");
        md.AppendLine();
        md.AppendLine("| frame | plain C# loop frames/s | Gbit/s |");
        md.AppendLine("|---|---|---|");
        foreach (var r in report.CoreLoop)
            md.AppendLine(c, $"| {r.Size}{(r.Gso ? " GSO" : "")} | {Rate(r.FramesPerSecond)} | {r.Gbps:F2} |");
        md.AppendLine();
        md.AppendLine(c, $"memcpy (one thread): {report.MemcpyGBps:F1} GB/s.");
        md.AppendLine();
        if (report.Steady is { DaemonDelta: { } delta } steady)
        {
            md.AppendLine("### Daemon steady state");
            md.AppendLine();
            md.AppendLine(c, $"{steady.Seconds:F0} s windowed stream of {steady.Size}-byte frames, {steady.Pairs} pair(s), {delta.Frames} frames: " +
                $"{delta.AllocatedBytes} bytes allocated ({delta.AllocatedBytesPerFrame:F3} per frame), {delta.Collections} garbage collections ({delta.Gen2Collections} gen2), " +
                $"deltas of the daemon's `GC.GetTotalAllocatedBytes(true)` and `GC.CollectionCount`.");
            if (report.SteadyIdle is { } quiet)
            {
                md.AppendLine();
                md.AppendLine(c, $"The same daemon over the same time just before, with no traffic: {quiet.AllocatedBytes} bytes allocated, {quiet.Collections} collections " +
                    $"(so the stream's own share is {Math.Max(0, delta.AllocatedBytes - quiet.AllocatedBytes)} bytes, {(delta.Frames == 0 ? 0 : Math.Max(0, delta.AllocatedBytes - quiet.AllocatedBytes) / (double)delta.Frames):F4} per frame).");
            }
            md.AppendLine();
        }
        if (report.Idle is { } idle)
        {
            md.AppendLine("### Daemon with idle guests");
            md.AppendLine();
            md.AppendLine(c, $"{idle.Guests} guests from the toolstack's first vif to all Connected in {idle.ConnectSeconds:F2} s (the toolstack's last transaction done at {idle.CreateSeconds:F2} s); " +
                $"daemon `Private_Dirty` +{idle.PrivateDirtyKiBPerGuest:F1} KiB per guest, managed heap +{idle.ManagedHeapBytesPerGuest / 1024:F1} KiB per guest.");
            md.AppendLine();
        }
        return md.ToString();
    }

    private static IEnumerable<WorkloadResult> Daemon(BenchReport report, string workload) =>
        report.Results.Where(r => r.Backend == "daemon" && r.Workload == workload).OrderBy(r => r.Pairs).ThenBy(r => r.Size);

    private static string Size(WorkloadResult r) => r.Size == BenchFrame.GsoFrameLength ? (r.Gso ? "65535 GSO" : "65535") : r.Size.ToString(CultureInfo.InvariantCulture);

    private static string Rate(double? v) => v switch
    {
        null => "–",
        >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{v / 1e6:F2} M"),
        >= 1e3 => string.Create(CultureInfo.InvariantCulture, $"{v / 1e3:F1} k"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{v:F0}"),
    };

    private static string Fixed(double? v, int digits = 2) => v is null ? "–" : v.Value.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string Ratio(double? daemon, double? cback) =>
        daemon is null || cback is null || cback == 0 ? "–" : (daemon.Value / cback.Value).ToString("F2", CultureInfo.InvariantCulture);
}
