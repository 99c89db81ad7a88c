using System.Text.Json;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Soak;

/// <summary>
/// The chaos soak, bounded (docs/reliability.md, "Soak"): <c>soak --seconds 40 --seed 4</c>, whose
/// schedule holds every kind of fault (a ring actor's exception, a guest process killed, a vif removed
/// and re-added, a reconnect, hostile frontends, the daemon stopped with SIGTERM and killed with
/// SIGKILL, xenstore restarted under every client). The soak's own exit code is the verdict: any failed check fails the test, with the report.
/// </summary>
[Collection(SoakCollection.Name)]
public sealed class SoakTests
{
    private const int Seed = 4;
    private const int Seconds = 40;

    /// <summary>
    /// A Debug build on a shared machine: this bound catches a restart that hangs or crawls, not one that
    /// misses issue 16's 10 ms target; that target is the Release soak's (docs/reliability.md).
    /// </summary>
    private const int RestartP99Ms = 250;

    [Fact]
    public async Task A_40_second_soak_under_every_kind_of_fault_loses_corrupts_and_leaks_nothing()
    {
        var output = Directory.CreateTempSubdirectory("xnb-soak-").FullName;
        try
        {
            var (code, stdout, stderr) = await Command.RunAsync("dotnet",
                [DaemonProcess.HostDll, "soak", "--seconds", $"{Seconds}", "--seed", $"{Seed}", "--restart-p99-ms", $"{RestartP99Ms}", "--output", output],
                TimeSpan.FromSeconds(120));
            Assert.True(code == 0, $"soak --seed {Seed} exited with {code}\n{stdout}\n{stderr}");

            using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "report.json")));
            var root = report.RootElement;
            Assert.True(root.GetProperty("passed").GetBoolean(), stdout);
            var faults = root.GetProperty("faults").EnumerateArray().Select(f => f.GetProperty("fault").GetString()!).ToList();
            foreach (var kind in new[] { "ring-fault", "guest-process-killed", "vif-removed-and-readded", "frontend-reconnects", "hostile-frontend", "daemon-sigterm-restart", "daemon-sigkill-restart", "xenstore-restarted" })
                Assert.True(faults.Any(f => f.Contains(kind, StringComparison.Ordinal)), $"no {kind} ran\n{stdout}");
            Assert.Equal(16, root.GetProperty("streams").GetArrayLength());
            Assert.True(root.GetProperty("streams").EnumerateArray().All(s => s.GetProperty("received").GetInt64() > 0), $"a stream delivered nothing\n{stdout}");
            Assert.Equal(3, root.GetProperty("daemonIncarnations").GetInt32());
            Assert.True(File.Exists(Path.Combine(output, "report.md")));
            // The memory's breakdown (issue 16: what the RSS left over the baseline is made of) is read at both ends.
            foreach (var moment in new[] { "baseline", "end" })
            {
                var resources = root.GetProperty(moment);
                foreach (var part in new[] { "rssAnonKiB", "rssFileKiB", "rssShmemKiB", "gcHeapBytes", "gcCommittedBytes", "poolKeptBytes" })
                    Assert.True(resources.GetProperty(part).GetInt64() >= 0, $"{moment}.{part} was not read: {resources}");
                Assert.True(resources.GetProperty("rssAnonKiB").GetInt64() + resources.GetProperty("rssFileKiB").GetInt64() <= resources.GetProperty("rssKiB").GetInt64(),
                    $"{moment}: RssAnon + RssFile past VmRSS: {resources}");
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
