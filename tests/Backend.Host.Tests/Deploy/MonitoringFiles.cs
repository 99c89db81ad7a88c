using System.Text.RegularExpressions;
using Backend.Host.Metrics;
using Backend.Host.Tests.Support;
using Backend.Xen.Buffers;

namespace Backend.Host.Tests.Deploy;

/// <summary>deploy/prometheus and deploy/grafana, and the metric names the daemon serves, for their tests.</summary>
public static partial class MonitoringFiles
{
    public static string Rules => Path.Combine(Repository.Root, "deploy", "prometheus", "xnb-rules.yml");

    public static string RulesTests => Path.Combine(Repository.Root, "deploy", "prometheus", "xnb-rules.test.yml");

    public static string Dashboard => Path.Combine(Repository.Root, "deploy", "grafana", "xnb.json");

    /// <summary>Every metric name the daemon's meter has: what <c>/metrics</c> can serve.</summary>
    public static IReadOnlySet<string> ServedNames()
    {
        using var buffers = new PacketBufferPool();
        using var metrics = new XnbMetrics(new Backend.Actors.Status.VifStatusRegistry(), () => [], buffers);
        using var writer = new PrometheusWriter(metrics.Meter);
        return PrometheusText.Parse(writer.Write()).Types.Keys.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The xnb metric names a PromQL text uses: <c>xnb_…</c> words that are not part of a recording rule's
    /// name (<c>instance:xnb_vif_tx_bytes:rate1m</c>).
    /// </summary>
    public static IEnumerable<string> MetricNamesIn(string promql) =>
        XnbName().Matches(promql).Select(m => m.Value);

    [GeneratedRegex("(?<![:A-Za-z0-9_])xnb_[a-z0-9_]+(?![:A-Za-z0-9_])")]
    private static partial Regex XnbName();
}
