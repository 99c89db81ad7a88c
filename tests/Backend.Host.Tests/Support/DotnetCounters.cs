using System.Text.Json;

namespace Backend.Host.Tests.Support;

/// <summary>
/// dotnet-counters, the .NET diagnostics tool admins watch counters with, as the repository's local tool
/// (dotnet-tools.json, restored from NuGet by <c>dotnet tool restore</c>). A restore that fails fails the
/// test under <c>CI=true</c> and skips it elsewhere, as a missing Debian package does.
/// </summary>
public static class DotnetCounters
{
    private static readonly SemaphoreSlim Restore = new(1, 1);
    private static bool _restored;

    public static async Task RequireAsync()
    {
        await Restore.WaitAsync();
        try
        {
            if (_restored)
                return;
            var (code, stdout, stderr) = await Command.RunAsync("dotnet", ["tool", "restore"], TimeSpan.FromMinutes(5), workingDirectory: Repository.Root);
            Prerequisite.Require(code == 0, $"dotnet-counters is missing: dotnet tool restore exited {code}: {stdout} {stderr}");
            _restored = true;
        }
        finally
        {
            Restore.Release();
        }
    }

    /// <summary>One value dotnet-counters printed: a rate per interval for a counter, the value for a gauge.</summary>
    public sealed record Reading(string Name, string Tags, bool Rate, double Value)
    {
        /// <summary>The series as <see cref="PrometheusText.Sample.Series"/> writes it (dotnet-counters sorts the tags too).</summary>
        public string Series => Name + "{" + string.Join(',', Tags.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => t.Split('=', 2)).Select(kv => $"{kv[0]}=\"{kv[1]}\"")) + "}";
    }

    /// <summary>Runs <c>dotnet-counters collect</c> on a process for <paramref name="duration"/> and returns what it saw of <paramref name="meter"/>.</summary>
    public static async Task<List<Reading>> CollectAsync(int processId, string meter, TimeSpan duration)
    {
        var output = Path.Combine(Path.GetTempPath(), $"xnb-counters-{Guid.NewGuid():N}.json");
        try
        {
            var (code, stdout, stderr) = await Command.RunAsync("dotnet",
                ["tool", "run", "dotnet-counters", "collect", "-p", processId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                 "--counters", meter, "--format", "json", "-o", output, "--duration", duration.ToString(@"dd\:hh\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture)],
                duration + TimeSpan.FromMinutes(1), workingDirectory: Repository.Root);
            Assert.True(code == 0 && File.Exists(output), $"dotnet-counters collect exited {code}:\n{stdout}\n{stderr}");
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(output));
            var readings = new List<Reading>();
            foreach (var e in json.RootElement.GetProperty("Events").EnumerateArray())
            {
                if (e.GetProperty("provider").GetString() != meter)
                    continue;
                var name = e.GetProperty("name").GetString()!;
                var space = name.IndexOf(' ', StringComparison.Ordinal); // "xnb_vif_tx_packets_total (Count / 1 sec)"
                readings.Add(new Reading(space < 0 ? name : name[..space], e.GetProperty("tags").GetString() ?? "",
                    e.GetProperty("counterType").GetString() == "Rate", e.GetProperty("value").GetDouble()));
            }
            return readings;
        }
        finally
        {
            File.Delete(output);
        }
    }
}
