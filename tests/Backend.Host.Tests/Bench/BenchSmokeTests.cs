using System.Diagnostics;
using System.Text.Json;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Bench;

/// <summary>
/// The benchmark run end to end for a second or two (<c>bench --smoke</c>), so that it never rots: the
/// daemon and cback each as their own process, the guests in another. It checks what the run did, never
/// how fast: a timing claim comes from a Release bench, not from a test.
/// </summary>
public sealed class BenchSmokeTests
{
    [SkippableFact]
    public async Task Bench_smoke_run_measures_the_daemon_and_cback_and_writes_json_markdown_and_svg()
    {
        Prerequisites.RequireCbackBuild();
        var output = Directory.CreateTempSubdirectory("xnb-bench-smoke-").FullName;
        try
        {
            var (code, stdout, stderr) = await RunAsync(["bench", "--smoke", "--output", output], TimeSpan.FromSeconds(180));
            Assert.True(code == 0, $"bench exited with {code}\n{stderr}");
            using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "report.json")));
            var results = report.RootElement.GetProperty("results").EnumerateArray().ToList();
            foreach (var backend in new[] { "daemon", "cback" })
            {
                foreach (var size in new[] { 64, 65535 })
                {
                    var windowed = Single(results, backend, "windowed", size, stderr);
                    Assert.True(windowed.GetProperty("framesTotal").GetInt64() > 0, $"{backend} windowed {size}: no frame delivered\n{stderr}");
                    Assert.True(windowed.GetProperty("lost").GetInt64() == 0, $"{backend} windowed {size}: frames lost with 256 in flight\n{stderr}");
                    Assert.True(windowed.GetProperty("outOfOrder").GetInt64() == 0, $"{backend} windowed {size}: frames out of order\n{stderr}");
                    Assert.True(windowed.GetProperty("txErrors").GetInt64() == 0 && windowed.GetProperty("rxErrors").GetInt64() == 0, $"{backend} windowed {size}: ring errors\n{stderr}");
                    var unpaced = Single(results, backend, "unpaced", size, stderr);
                    Assert.True(unpaced.GetProperty("framesTotal").GetInt64() > 0, $"{backend} unpaced {size}: no frame delivered\n{stderr}");
                    var pingpong = Single(results, backend, "pingpong", size, stderr);
                    Assert.True(pingpong.GetProperty("roundTrips").GetInt64() > 0, $"{backend} pingpong {size}: no round trip\n{stderr}");
                    Assert.True(pingpong.TryGetProperty("p99Us", out _), $"{backend} pingpong {size}: no p99\n{stderr}");
                }
            }
            // The daemon negotiated GSO with the guests; cback offers none, so it got plain 16-slot frames.
            Assert.True(Single(results, "daemon", "windowed", 65535, stderr).GetProperty("gso").GetBoolean(), "the daemon's 65535-byte frames were not GSO");
            Assert.False(Single(results, "cback", "windowed", 65535, stderr).GetProperty("gso").GetBoolean(), "cback advertises no GSO, yet its frames were GSO");

            var steady = report.RootElement.GetProperty("steady").GetProperty("daemonDelta");
            Assert.True(steady.GetProperty("frames").GetInt64() > 0, "the steady-state stream moved no frame");
            Assert.True(steady.GetProperty("allocatedBytes").GetInt64() >= 0, "the daemon's allocation counter went backwards");
            var idle = report.RootElement.GetProperty("idle");
            Assert.Equal(8, idle.GetProperty("guests").GetInt32());
            Assert.Equal(2, report.RootElement.GetProperty("coreLoop").GetArrayLength());
            Assert.True(report.RootElement.GetProperty("memcpyGBps").GetDouble() > 0, "no memcpy figure");

            var markdown = await File.ReadAllTextAsync(Path.Combine(output, "report.md"));
            Assert.Contains("| daemon / cback |", markdown, StringComparison.Ordinal);
            Assert.Contains("### Ping-pong round trip", markdown, StringComparison.Ordinal);
            var svg = await File.ReadAllTextAsync(Path.Combine(output, "frames.svg"));
            Assert.StartsWith("<svg", svg, StringComparison.Ordinal);
            Assert.Contains("polyline", svg, StringComparison.Ordinal);
            Assert.Contains("\"results\"", stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(Directory.GetDirectories("/dev/shm", "xnb-*"), d => d.EndsWith($"-{LastPid}", StringComparison.Ordinal) || d.Contains($"-{LastPid}-", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private static int LastPid { get; set; }

    private static JsonElement Single(List<JsonElement> results, string backend, string workload, int size, string log)
    {
        var found = results.Where(r => r.GetProperty("backend").GetString() == backend && r.GetProperty("workload").GetString() == workload && r.GetProperty("size").GetInt32() == size).ToList();
        Assert.True(found.Count == 1, $"{found.Count} results for {backend} {workload} {size}\n{log}");
        return found[0];
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string[] args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(DaemonProcess.HostDll);
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        LastPid = process.Id;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"bench --smoke did not finish within {timeout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
