using System.Text;
using System.Text.Json;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Deploy;

/// <summary>
/// deploy/grafana/xnb.json: a dashboard Grafana imports (unique panel ids, a Prometheus data source
/// variable), whose every query is valid PromQL (checked by promtool as recording rules, Grafana's
/// variables replaced) on metrics the daemon serves, with the panels the issue asks for.
/// </summary>
public sealed class GrafanaDashboardTests
{
    private static JsonDocument Load() => JsonDocument.Parse(File.ReadAllText(MonitoringFiles.Dashboard));

    private static List<JsonElement> Panels(JsonElement dashboard) =>
        dashboard.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();

    private static IEnumerable<string> Queries(JsonElement dashboard) =>
        Panels(dashboard).SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!);

    [Fact]
    public void The_dashboard_is_importable_json_with_unique_panel_ids_and_a_prometheus_data_source_variable()
    {
        using var doc = Load();
        var root = doc.RootElement;
        Assert.Equal("xnb-overview", root.GetProperty("uid").GetString());
        var ids = root.GetProperty("panels").EnumerateArray().Select(p => p.GetProperty("id").GetInt32()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!);
        Assert.Equal("prometheus", variables["datasource"].GetProperty("query").GetString());
        Assert.All(Panels(root), p => Assert.Equal("${datasource}", p.GetProperty("datasource").GetProperty("uid").GetString()));
        Assert.True(variables.ContainsKey("instance") && variables.ContainsKey("vif"), "the dashboard selects hosts and vifs");
    }

    [Fact]
    public void It_shows_rates_drops_faults_restarts_disabled_and_carrier_off_vifs_per_host_and_per_vif()
    {
        using var doc = Load();
        var titles = Panels(doc.RootElement).Select(p => p.GetProperty("title").GetString()!).ToList();
        foreach (var title in new[]
                 {
                     "Throughput per host", "Packets per host", "Drops per host", "Faults and restarts per host",
                     "Throughput per vif", "Packets per vif", "RX drops per vif", "Faults and restarts per vif",
                     "Disabled vifs", "Carrier-off vifs", "Daemon restarts",
                 })
            Assert.Contains(title, titles);
    }

    [Fact]
    public void Every_query_uses_only_metrics_the_daemon_serves()
    {
        using var doc = Load();
        var served = MonitoringFiles.ServedNames();
        var used = Queries(doc.RootElement).SelectMany(MonitoringFiles.MetricNamesIn).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(used);
        var unknown = used.Where(n => !served.Contains(n)).ToList();
        Assert.True(unknown.Count == 0, $"the dashboard queries metrics /metrics does not serve: {string.Join(", ", unknown)}");
    }

    [SkippableFact]
    public async Task Every_query_is_valid_promql()
    {
        var promtool = Prerequisites.RequirePromtool();
        using var doc = Load();
        // promtool parses each expression of a rules file: the queries become recording rules, with
        // Grafana's variables replaced by what Grafana would put there.
        var rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        var i = 0;
        foreach (var query in Queries(doc.RootElement))
        {
            var promql = query.Replace("$__rate_interval", "1m", StringComparison.Ordinal)
                .Replace("$__range", "6h", StringComparison.Ordinal)
                .Replace("$instance", ".*", StringComparison.Ordinal)
                .Replace("$vif", ".*", StringComparison.Ordinal);
            Assert.DoesNotContain("$", promql, StringComparison.Ordinal);
            rules.Append("      - record: dashboard:query").Append(i++).Append('\n')
                .Append("        expr: ").Append(JsonSerializer.Serialize(promql)).Append('\n');
        }
        var file = Path.Combine(Path.GetTempPath(), $"xnb-dashboard-{Guid.NewGuid():N}.yml");
        await File.WriteAllTextAsync(file, rules.ToString());
        try
        {
            var (code, stdout, stderr) = await Command.RunAsync(promtool, ["check", "rules", file], TimeSpan.FromMinutes(2));
            Assert.True(code == 0, $"promtool rejects a dashboard query:\n{stdout}\n{stderr}");
            Assert.Contains($"SUCCESS: {i} rules found", stdout, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
