using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore.Server;

namespace Backend.Host.Bench;

/// <summary>
/// One bench invocation: the machine, memcpy and the protocol-core loop, then for each backend (the daemon,
/// then cback) a fresh sim root with its own xenstore server (in this process, as xenstored is outside
/// the backend on Xen), the backend as its own process, and for each pair count one guest process that
/// runs every workload at every frame size. The daemon also gets the steady-state stream (its allocations
/// and collections) and the idle-guests run (memory per guest, time to Connected).
/// </summary>
internal sealed class BenchRunner(BenchOptions options, TextWriter progress)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(10);

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var machine = MachineInfo.Describe();
        progress.WriteLine($"bench on {machine}");
        if (machine.Build != "Release")
            progress.WriteLine("warning: this is a Debug build; figures for the record come from `dotnet run -c Release --project src/Backend.Host -- bench`");
        var memcpy = MemcpyProbe.GigabytesPerSecond(TimeSpan.FromSeconds(Math.Max(0.2, options.CoreSeconds)));
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memcpy: {memcpy:F1} GB/s (one thread)"));
        var core = new List<CoreLoopResult>();
        foreach (var size in options.Sizes)
        {
            var r = CoreLoop.Run(size, TimeSpan.FromSeconds(options.CoreSeconds));
            core.Add(r);
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"core loop {size} B: {r.FramesPerSecond:F0} frames/s, {r.Gbps:F2} Gbit/s"));
        }

        var report = new BenchReport { Machine = machine, MemcpyGBps = memcpy, CoreLoop = core, StartedUtc = DateTime.UtcNow };
        foreach (var backend in options.Backends)
        {
            cancellationToken.ThrowIfCancellationRequested();
            report = await RunBackendAsync(report, backend, cancellationToken).ConfigureAwait(false);
        }
        return report with { Results = [.. report.Results.Select(r => WithCpuRatio(report, r))] };
    }

    /// <summary>
    /// The frames a run put through the backend: all it delivered, or for ping-pong (which counts round
    /// trips, in its measured interval only) two per round trip.
    /// </summary>
    private static long FramesOf(WorkloadResult r) => r.FramesTotal > 0 ? r.FramesTotal : 2 * (r.RoundTrips ?? 0);

    /// <summary>A daemon run with its backend CPU per frame over cback's, when both were measured.</summary>
    private static WorkloadResult WithCpuRatio(BenchReport report, WorkloadResult r) =>
        r.Backend == "daemon" && r.Cpu is { UsPerFrame: { } daemon } cpu && report.CbackFor(r)?.Cpu?.UsPerFrame is { } cback && cback > 0
            ? r with { Cpu = cpu with { UsPerFrameToCback = daemon / cback } }
            : r;

    private async Task<BenchReport> RunBackendAsync(BenchReport report, string backend, CancellationToken cancellationToken)
    {
        var rootPath = string.Create(CultureInfo.InvariantCulture, $"/dev/shm/xnb-bench-{Environment.ProcessId}-{backend}");
        if (Directory.Exists(rootPath))
            Directory.Delete(rootPath, recursive: true);
        var root = new SimRoot(rootPath);
        var results = new List<WorkloadResult>(report.Results);
        try
        {
            // The daemon watches two nodes per vif on one connection; xenstored exempts dom0 from its watch
            // quota, the embedded server's default (1024) would stop it near 500 vifs.
            var serverOptions = new XenStoreServerOptions();
            await using var xenstore = await XenStoreServer.StartAsync(Path.Combine(root.Path, "xenstored.sock"), serverOptions, cancellationToken).ConfigureAwait(false);
            await using var process = StartBackend(backend, root.Path);
            await process.WaitForLineAsync("READY", ReadyTimeout, cancellationToken).ConfigureAwait(false);
            progress.WriteLine($"{backend}: READY (pid {process.Id})");
            ushort firstDomId = 1;
            foreach (var pairs in options.Pairs)
            {
                if (backend == "cback" && 2 * pairs > CbackMaxVifs)
                {
                    progress.WriteLine($"cback: {pairs} pairs skipped (cback serves at most {CbackMaxVifs} vifs)");
                    continue;
                }
                await using var guests = await StartGuestsAsync(root.Path, firstDomId, pairs, broadcast: true, cancellationToken).ConfigureAwait(false);
                firstDomId = (ushort)(firstDomId + 2 * pairs);
                if (options.WarmupSeconds > 0)
                {
                    foreach (var size in options.Sizes)
                        await RunWorkloadAsync(guests, "windowed", size, options.WarmupSeconds, cancellationToken).ConfigureAwait(false);
                }
                foreach (var size in options.Sizes)
                {
                    foreach (var workload in options.Workloads)
                    {
                        var cpuBefore = ProcessCpuSample.Read(process.Id);
                        var result = await RunWorkloadAsync(guests, workload, size, options.Seconds, cancellationToken).ConfigureAwait(false);
                        result = result with { Backend = backend, Cpu = ProcessCpuSample.Read(process.Id).Since(cpuBefore, FramesOf(result)) };
                        results.Add(result);
                        progress.WriteLine($"{backend}: {Describe(result)}");
                    }
                }
                if (backend == "daemon" && pairs == options.Pairs[0] && options.SteadySeconds > 0)
                {
                    // The same length of time with no traffic first: what the daemon allocates anyway (timers,
                    // the admin server's heartbeat), so that the stream's own share can be told apart.
                    var idleBefore = await StatsAsync(process).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(options.SteadySeconds), cancellationToken).ConfigureAwait(false);
                    var before = await StatsAsync(process).ConfigureAwait(false);
                    var stream = await RunWorkloadAsync(guests, "windowed", 1500, options.SteadySeconds, cancellationToken).ConfigureAwait(false);
                    var after = await StatsAsync(process).ConfigureAwait(false);
                    var delta = after.Since(before) with { Frames = stream.FramesTotal };
                    report = report with { Steady = stream with { Backend = backend, DaemonDelta = delta }, SteadyIdle = before.Since(idleBefore) };
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"daemon without traffic for {options.SteadySeconds:F0} s: {report.SteadyIdle!.AllocatedBytes} bytes allocated, {report.SteadyIdle.Collections} collections"));
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"daemon steady state: {options.SteadySeconds:F0} s windowed 1500 B, {delta.Frames} frames: {delta.AllocatedBytes} bytes allocated ({delta.AllocatedBytesPerFrame:F3} per frame), {delta.Collections} collections ({delta.Gen2Collections} gen2)"));
                }
                await guests.WriteLineAsync("quit").ConfigureAwait(false);
                await guests.WaitForExitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            }
            if (backend == "daemon" && options.IdleGuests > 0)
            {
                try
                {
                    report = report with { Idle = await RunIdleAsync(process, root.Path, firstDomId, cancellationToken).ConfigureAwait(false) };
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    // Reported, not fatal: the other figures of the run still stand.
                    progress.WriteLine($"daemon idle guests FAILED: {e.Message}\ndaemon log (last lines):\n{process.Log}");
                }
            }
            var code = await process.StopAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            if (code != 0)
                progress.WriteLine($"{backend}: exited with {code} on SIGTERM\n{process.Log}");
        }
        finally
        {
            try
            {
                Directory.Delete(rootPath, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        return report with { Results = results };
    }

    /// <summary>cback's vif table (cback.c MAX_VIFS).</summary>
    public const int CbackMaxVifs = 64;

    private BenchProcess StartBackend(string backend, string root)
    {
        switch (backend)
        {
            case "daemon":
                return BenchProcess.StartHost("daemon", ["--sim-root", root, "--log-level", "Warning"],
                    new Dictionary<string, string> { [BenchStatsHook.EnvironmentVariable] = "1" });
            case "cback":
                var build = options.CbackBuild ?? BuildCback();
                return BenchProcess.Start("cback", Path.Combine(build, "cback"), ["--root", root]);
            default:
                throw new ArgumentException($"unknown backend \"{backend}\" (daemon, cback)");
        }
    }

    /// <summary>
    /// Builds cback with simxen-c's own build.sh, into a folder keyed by the sources' hash so that later runs
    /// reuse a finished build (it is renamed into place only when complete).
    /// </summary>
    private string BuildCback()
    {
        var final = Path.Combine(Path.GetTempPath(), "xnb-bench-cback-" + SourceHash(options.SimxenCSource));
        if (File.Exists(Path.Combine(final, "cback")))
            return final;
        var build = Directory.CreateTempSubdirectory("xnb-bench-cback-build-").FullName;
        var info = new ProcessStartInfo("/bin/bash", [Path.Combine(options.SimxenCSource, "build.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["BUILD"] = build;
        using var p = Process.Start(info) ?? throw new InvalidOperationException("cannot run build.sh");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 || !File.Exists(Path.Combine(build, "cback")))
        {
            Directory.Delete(build, recursive: true);
            throw new InvalidOperationException($"{options.SimxenCSource}/build.sh failed ({p.ExitCode}): {stderr}{stdout.Result}");
        }
        try
        {
            Directory.Move(build, final);
        }
        catch (IOException)
        {
            // Another run finished the same build first: use its.
            Directory.Delete(build, recursive: true);
        }
        return final;
    }

    private static string SourceHash(string directory)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(directory).Order(StringComparer.Ordinal))
            sha.AppendData(File.ReadAllBytes(file));
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    private async Task<BenchProcess> StartGuestsAsync(string root, ushort firstDomId, int pairs, bool broadcast, CancellationToken cancellationToken)
    {
        List<string> args = ["bench", "guests", "--sim-root", root, "--first-domid", firstDomId.ToString(CultureInfo.InvariantCulture), "--pairs", pairs.ToString(CultureInfo.InvariantCulture)];
        if (!broadcast)
            args.Add("--no-broadcast");
        var guests = BenchProcess.StartHost($"guests {firstDomId}..{firstDomId + 2 * pairs - 1}", args, stdin: true);
        try
        {
            var connected = JsonSerializer.Deserialize<GuestsConnected>(
                await guests.WaitForLineAsync(BenchGuestsRunner.ConnectedPrefix, TimeSpan.FromSeconds(180), cancellationToken).ConfigureAwait(false), BenchJson.Line)!;
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{connected.Guests} guests connected in {connected.ConnectSeconds:F2} s (toolstack done at {connected.CreateSeconds:F2} s)"));
            return guests;
        }
        catch
        {
            await guests.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<WorkloadResult> RunWorkloadAsync(BenchProcess guests, string workload, int size, double seconds, CancellationToken cancellationToken)
    {
        await guests.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"run {workload} {size} {seconds}")).ConfigureAwait(false);
        var line = await guests.WaitForLineAsync(BenchGuestsRunner.ResultPrefix, TimeSpan.FromSeconds(seconds + 60), cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize<WorkloadResult>(line, BenchJson.Line)!;
    }

    private static async Task<DaemonStats> StatsAsync(BenchProcess daemon) =>
        JsonSerializer.Deserialize<DaemonStats>(await daemon.RequestStatsAsync(StatsTimeout).ConfigureAwait(false), BenchJson.Line)!;

    /// <summary>Connects <see cref="BenchOptions.IdleGuests"/> guests and leaves them idle: memory per guest and time to Connected.</summary>
    private async Task<IdleGuestsResult> RunIdleAsync(BenchProcess daemon, string root, ushort firstDomId, CancellationToken cancellationToken)
    {
        var before = await StatsAsync(daemon).ConfigureAwait(false);
        var pairs = (options.IdleGuests + 1) / 2;
        await using var guests = BenchProcess.StartHost("idle guests", ["bench", "guests", "--sim-root", root, "--first-domid", firstDomId.ToString(CultureInfo.InvariantCulture), "--pairs", pairs.ToString(CultureInfo.InvariantCulture), "--no-broadcast"], stdin: true);
        var connected = JsonSerializer.Deserialize<GuestsConnected>(
            await guests.WaitForLineAsync(BenchGuestsRunner.ConnectedPrefix, TimeSpan.FromSeconds(300), cancellationToken).ConfigureAwait(false), BenchJson.Line)!;
        // Let the daemon finish what connecting started (status, logs) before looking at its memory.
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
        var after = await StatsAsync(daemon).ConfigureAwait(false);
        await guests.WriteLineAsync("quit").ConfigureAwait(false);
        await guests.WaitForExitAsync(TimeSpan.FromSeconds(120)).ConfigureAwait(false);
        var delta = after.Since(before);
        var result = new IdleGuestsResult
        {
            Guests = connected.Guests,
            ConnectSeconds = connected.ConnectSeconds,
            CreateSeconds = connected.CreateSeconds,
            PrivateDirtyKiBPerGuest = (double)delta.PrivateDirtyKiB / connected.Guests,
            ManagedHeapBytesPerGuest = (double)delta.ManagedHeapBytes / connected.Guests,
            Delta = delta,
        };
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"daemon idle: {result.Guests} guests Connected in {result.ConnectSeconds:F2} s (toolstack done at {result.CreateSeconds:F2} s); Private_Dirty +{result.PrivateDirtyKiBPerGuest:F1} KiB per guest, managed heap +{result.ManagedHeapBytesPerGuest / 1024:F1} KiB per guest"));
        return result;
    }

    private static string Describe(WorkloadResult r) => r.Workload switch
    {
        "pingpong" => string.Create(CultureInfo.InvariantCulture, $"{r.Pairs} pair(s) pingpong {r.Size} B: p50 {r.P50Us:F0} us, p99 {r.P99Us:F0} us ({r.RoundTrips} round trips, {r.Retries} retries)"),
        "unpaced" => string.Create(CultureInfo.InvariantCulture, $"{r.Pairs} pair(s) unpaced {r.Size} B{(r.Gso ? " GSO" : "")}: sent {r.SentPerSecond:F0}/s, delivered {r.FramesPerSecond:F0}/s, drops {r.Drops}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{r.Pairs} pair(s) windowed {r.Size} B{(r.Gso ? " GSO" : "")}: {r.FramesPerSecond:F0} frames/s, {r.Gbps:F2} Gbit/s, lost {r.Lost}, out of order {r.OutOfOrder}"),
    };
}
