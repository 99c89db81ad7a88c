using System.CommandLine;
using System.Text.Json;
using Backend.Host.Soak;

namespace Backend.Host.Cli;

/// <summary>
/// <c>soak</c>: the chaos soak (docs/reliability.md, "Soak"): the daemon as its own process, guests
/// streaming checked frames, and a seeded schedule of faults; report.json and report.md in
/// <c>--output</c>; exit code 1 when a check failed.
/// </summary>
public static class SoakCommand
{
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Length of the fault phase (default 300).", DefaultValueFactory = _ => 300 };
        var seed = new Option<int?>("--seed") { Description = "Seed of the fault schedule (default: a random one, printed)." };
        var output = new Option<string>("--output") { Description = "Folder for report.json and report.md.", DefaultValueFactory = _ => "soak-results" };
        var rate = new Option<int>("--rate") { Description = "Frames per second each guest streams (default 400).", DefaultValueFactory = _ => 400 };
        var faultEvery = new Option<double>("--fault-every") { Description = "Mean seconds between faults (default 3).", DefaultValueFactory = _ => 3 };
        var restartTarget = new Option<double>("--restart-p99-ms") { Description = "Tree-restart p99 the run must meet (default 10, issue 16's target for a Release build).", DefaultValueFactory = _ => 10 };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the seed's fault schedule and exit." };
        var faults = new Option<string?>("--faults") { Description = "Only these fault kinds, comma-separated (default every kind): " + string.Join(", ", SoakSchedule.Deck.Distinct()) + "." };
        var command = new Command("soak", "Chaos soak: 16 simulated guests with checked streams, the daemon under a seeded fault schedule.")
        {
            seconds, seed, output, rate, faultEvery, restartTarget, dryRun, faults,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new SoakOptions
            {
                Seconds = parse.GetValue(seconds),
                Seed = parse.GetValue(seed) ?? Random.Shared.Next(1, int.MaxValue),
                Output = parse.GetValue(output)!,
                Rate = parse.GetValue(rate),
                FaultEvery = parse.GetValue(faultEvery),
                RestartP99TargetMs = parse.GetValue(restartTarget),
                Kinds = parse.GetValue(faults) is { } list ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal) : null,
            };
            if (options.Kinds is { } kinds && (kinds.Count == 0 || !kinds.All(SoakSchedule.Deck.Contains)))
            {
                Console.Error.WriteLine($"xnb soak: --faults takes kinds among {string.Join(", ", SoakSchedule.Deck.Distinct())}");
                return 2;
            }
            if (options.Seconds is < 5 or > 86400 || options.Rate is < 10 or > 100_000 || options.FaultEvery is < 0.5 or > 3600 || options.RestartP99TargetMs <= 0)
            {
                Console.Error.WriteLine("xnb soak: --seconds 5..86400, --rate 10..100000, --fault-every 0.5..3600, --restart-p99-ms above 0");
                return 2;
            }
            if (parse.GetValue(dryRun))
            {
                foreach (var fault in SoakSchedule.Draw(options))
                    Console.Out.WriteLine(fault);
                return 0;
            }
            var report = await new SoakRunner(options, Console.Error).RunAsync(cancellationToken);
            Directory.CreateDirectory(options.Output);
            var markdown = SoakMarkdown.Format(report);
            await File.WriteAllTextAsync(Path.Combine(options.Output, "report.json"), JsonSerializer.Serialize(report, SoakJson.Indented), cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(options.Output, "report.md"), markdown, cancellationToken);
            Console.Out.WriteLine(markdown);
            return report.Passed ? 0 : 1;
        });
        return command;
    }
}
