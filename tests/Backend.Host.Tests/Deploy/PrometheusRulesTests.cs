using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Deploy;

/// <summary>
/// deploy/prometheus/xnb-rules.yml: valid for Prometheus (<c>promtool check rules</c>), its alerts and
/// recording rules doing what xnb-rules.test.yml says (<c>promtool test rules</c>), on names the daemon serves.
/// </summary>
public sealed class PrometheusRulesTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    [SkippableFact]
    public async Task Promtool_accepts_the_rules_file()
    {
        var promtool = Prerequisites.RequirePromtool();
        var (code, stdout, stderr) = await Command.RunAsync(promtool, ["check", "rules", MonitoringFiles.Rules], Bound);
        Assert.True(code == 0, $"promtool check rules failed:\n{stdout}\n{stderr}");
        Assert.Contains("SUCCESS", stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task The_alerts_fire_as_the_unit_tests_say()
    {
        var promtool = Prerequisites.RequirePromtool();
        var (code, stdout, stderr) = await Command.RunAsync(promtool, ["test", "rules", MonitoringFiles.RulesTests], Bound,
            workingDirectory: Path.GetDirectoryName(MonitoringFiles.RulesTests));
        Assert.True(code == 0, $"promtool test rules failed:\n{stdout}\n{stderr}");
    }

    [Fact]
    public void The_rules_use_only_metrics_the_daemon_serves()
    {
        var served = MonitoringFiles.ServedNames();
        var used = MonitoringFiles.MetricNamesIn(File.ReadAllText(MonitoringFiles.Rules)).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(used);
        var unknown = used.Where(n => !served.Contains(n)).ToList();
        Assert.True(unknown.Count == 0, $"the rules use metrics /metrics does not serve: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void There_is_an_alert_for_each_thing_an_admin_must_hear_about()
    {
        var rules = File.ReadAllText(MonitoringFiles.Rules);
        foreach (var alert in new[] { "XnbDaemonDown", "XnbVifDisabled", "XnbVifRestartingRepeatedly", "XnbVifRxDropsClimbing" })
        {
            Assert.Contains($"- alert: {alert}\n", rules, StringComparison.Ordinal);
            Assert.Contains($"alertname: {alert}\n", File.ReadAllText(MonitoringFiles.RulesTests), StringComparison.Ordinal);
        }
    }
}
