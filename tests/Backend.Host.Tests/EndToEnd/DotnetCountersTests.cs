using System.Diagnostics;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// <c>dotnet-counters collect --counters xnb</c> on a running daemon whose demo guests ping each other:
/// the meter shows the same series as <c>/metrics</c>, the same gauges, and counter rates that agree with
/// what <c>/metrics</c> counted over the same time.
/// </summary>
public sealed class DotnetCountersTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    /// <summary>Gauges that hold still while the demo runs (the packet-buffer gauges move with every frame).</summary>
    private static readonly string[] SteadyGauges =
        ["xnb_vifs", "xnb_vif_connected", "xnb_vif_carrier", "xnb_vif_disabled", "xnb_build_info", "xnb_start_time_seconds"];

    [SkippableFact]
    public async Task Dotnet_counters_and_metrics_show_the_same_series_and_figures()
    {
        await DotnetCounters.RequireAsync();
        await using var daemon = DaemonProcess.Start("--demo", "2");
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("vifs 2/2 connected", Start);
        using var http = new HttpClient { BaseAddress = new Uri(url) };

        var before = PrometheusText.Parse(await http.GetStringAsync("/metrics"));
        var clock = Stopwatch.StartNew();
        var readings = await DotnetCounters.CollectAsync(daemon.Id, "xnb", TimeSpan.FromSeconds(5));
        var after = PrometheusText.Parse(await http.GetStringAsync("/metrics"));
        var seconds = clock.Elapsed.TotalSeconds;

        var fromCounters = readings.Select(r => r.Series).ToHashSet(StringComparer.Ordinal);
        var fromMetrics = after.Samples.Select(s => s.Series).ToHashSet(StringComparer.Ordinal);
        Assert.True(fromCounters.SetEquals(fromMetrics),
            $"only dotnet-counters: {string.Join(' ', fromCounters.Except(fromMetrics))}\nonly /metrics: {string.Join(' ', fromMetrics.Except(fromCounters))}");

        foreach (var name in SteadyGauges)
        {
            foreach (var sample in after.Samples.Where(s => s.Name == name))
            {
                var last = readings.Last(r => r.Series == sample.Series);
                Assert.False(last.Rate, $"{name} is a gauge to dotnet-counters too");
                Assert.True(last.Value == sample.Value, $"{sample.Series}: dotnet-counters {last.Value}, /metrics {sample.Value}");
            }
        }

        // A counter is a rate per second to dotnet-counters; /metrics counted the same frames over a window
        // that encloses the collection. The demo's traffic is steady, so the two agree within a factor of 2.
        foreach (var name in new[] { "xnb_vif_tx_packets_total", "xnb_vif_rx_packets_total", "xnb_vif_tx_bytes_total" })
        {
            foreach (var sample in after.Samples.Where(s => s.Name == name))
            {
                var rates = readings.Where(r => r.Series == sample.Series).ToList();
                Assert.True(rates.Count > 0 && rates.All(r => r.Rate), $"{sample.Series}: dotnet-counters shows no rate");
                var median = rates.Select(r => r.Value).Order().ElementAt(rates.Count / 2);
                var average = (sample.Value - before.Value(sample.Series)) / seconds;
                Assert.True(average > 0 && median > average / 2 && median < average * 2,
                    $"{sample.Series}: dotnet-counters {median}/s, /metrics {average:0.0}/s over {seconds:0.0} s");
            }
        }

        daemon.Signal(15);
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
