using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Backend.Host.Bench;
using Backend.Xen.Abi;

namespace Backend.Host.Cli;

/// <summary>
/// <c>bench</c>: the daemon and then cback against the same simulated guests (guest processes of their own),
/// printing JSON and Markdown and writing report.json, report.md and frames.svg. <c>bench guests</c>
/// (hidden) is the guest process the bench starts.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output") { Description = "Folder for report.json, report.md and frames.svg.", DefaultValueFactory = _ => "bench-results" };
        var smoke = new Option<bool>("--smoke") { Description = "A run of a few seconds (1 pair, 64 and 65535 bytes, 0.2 s each): proves the bench works, measures nothing." };
        var seconds = new Option<double?>("--seconds") { Description = "Measured seconds per workload (default 2)." };
        var sizes = new Option<string?>("--sizes") { Description = "Frame sizes, comma-separated (default 64,1500,9000,65535)." };
        var pairs = new Option<string?>("--pairs") { Description = "Pair counts, comma-separated (default 1,32)." };
        var workloads = new Option<string?>("--workloads") { Description = "windowed,unpaced,pingpong (default all)." };
        var backends = new Option<string?>("--backends") { Description = "daemon,cback (default both, in that order)." };
        var steady = new Option<double?>("--steady-seconds") { Description = "The daemon's allocation/GC stream (default 10; 0 skips it)." };
        var idle = new Option<int?>("--idle-guests") { Description = "Idle guests for memory and connect time (default 1000; 0 skips it)." };
        var cback = new Option<string?>("--cback-build") { Description = "A folder with a built cback (default: build it with simxen-c's build.sh)." };
        var command = new Command("bench", "Benchmark the daemon against cback (Release build) on simulated guests.")
        {
            output, smoke, seconds, sizes, pairs, workloads, backends, steady, idle, cback,
        };
        command.Add(CreateGuests());
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = parse.GetValue(smoke) ? BenchOptions.Smoke(parse.GetValue(output)!) : new BenchOptions { Output = parse.GetValue(output)! };
            try
            {
                options = options with
                {
                    Seconds = parse.GetValue(seconds) ?? options.Seconds,
                    Sizes = Ints(parse.GetValue(sizes)) ?? options.Sizes,
                    Pairs = Ints(parse.GetValue(pairs)) ?? options.Pairs,
                    Workloads = Words(parse.GetValue(workloads), ["windowed", "unpaced", "pingpong"]) ?? options.Workloads,
                    Backends = Words(parse.GetValue(backends), ["daemon", "cback"]) ?? options.Backends,
                    SteadySeconds = parse.GetValue(steady) ?? options.SteadySeconds,
                    IdleGuests = parse.GetValue(idle) ?? options.IdleGuests,
                    CbackBuild = parse.GetValue(cback),
                };
                if (options.Sizes.Any(s => s is < BenchFrame.MinLength or > BenchFrame.GsoFrameLength))
                    throw new ArgumentException($"--sizes: each size must be {BenchFrame.MinLength}..{BenchFrame.GsoFrameLength}");
                if (options.Pairs.Any(p => p is < 1 or > 2000))
                    throw new ArgumentException("--pairs: each count must be 1..2000");
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"xnb bench: {e.Message}");
                return 2;
            }
            var report = await new BenchRunner(options, Console.Error).RunAsync(cancellationToken);
            Directory.CreateDirectory(options.Output);
            var json = JsonSerializer.Serialize(report, BenchJson.Indented);
            var markdown = BenchMarkdown.Format(report);
            await File.WriteAllTextAsync(Path.Combine(options.Output, "report.json"), json, cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(options.Output, "report.md"), markdown, cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(options.Output, "frames.svg"), BenchChart.Svg(report), cancellationToken);
            Console.Out.WriteLine(json);
            Console.Out.WriteLine(markdown);
            return 0;
        });
        return command;
    }

    /// <summary><c>bench guests</c>, hidden: the guest process the bench starts.</summary>
    public static Command CreateGuests()
    {
        var simRoot = new Option<string>("--sim-root") { Required = true };
        var xenstore = new Option<string?>("--xenstore");
        var backendDomId = new Option<int>("--backend-domid") { DefaultValueFactory = _ => 0 };
        var firstDomId = new Option<int>("--first-domid") { DefaultValueFactory = _ => 1 };
        var pairs = new Option<int>("--pairs") { DefaultValueFactory = _ => 1 };
        var noBroadcast = new Option<bool>("--no-broadcast");
        var command = new Command("guests", "The bench's guest process (started by bench).")
        {
            simRoot, xenstore, backendDomId, firstDomId, pairs, noBroadcast,
        };
        command.Hidden = true;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var first = parse.GetValue(firstDomId);
            var count = parse.GetValue(pairs);
            var backend = parse.GetValue(backendDomId);
            if (count < 1 || first < 1 || first + 2 * count > DomId.FirstReserved || !DomId.IsDomain(backend))
            {
                Console.Error.WriteLine("xnb bench guests: --pairs, --first-domid or --backend-domid out of range");
                return 2;
            }
            return await BenchGuestsRunner.RunAsync(parse.GetRequiredValue(simRoot), parse.GetValue(xenstore), (ushort)backend, (ushort)first, count, !parse.GetValue(noBroadcast), cancellationToken);
        });
        return command;
    }

    private static List<int>? Ints(string? text) =>
        text?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"\"{s}\" is not a number"))
            .ToList();

    private static List<string>? Words(string? text, string[] allowed) =>
        text?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => allowed.Contains(s) ? s : throw new ArgumentException($"\"{s}\" is not one of {string.Join(", ", allowed)}"))
            .ToList();
}
