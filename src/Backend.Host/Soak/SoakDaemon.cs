using System.Globalization;
using System.Net.Http.Json;

using Backend.Host.Admin;
using Backend.Host.Bench;

namespace Backend.Host.Soak;

/// <summary>
/// The daemon under soak: this same Backend.Host as a process of its own (<c>--sim-root ROOT</c>, the
/// fault route on), so that it can be stopped with SIGTERM and killed with SIGKILL. One instance per
/// incarnation; the runner starts the next one. Reads the admin endpoint and <c>/proc/PID</c>.
/// </summary>
internal sealed class SoakDaemon : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private readonly BenchProcess _process;
    private readonly HttpClient _http;

    private SoakDaemon(BenchProcess process, string adminUrl)
    {
        _process = process;
        AdminUrl = adminUrl;
        // No keep-alive: a connection the admin endpoint holds open would count among its file descriptors.
        _http = new HttpClient { BaseAddress = new Uri(adminUrl), Timeout = TimeSpan.FromSeconds(10) };
        _http.DefaultRequestHeaders.ConnectionClose = true;
    }

    public string AdminUrl { get; }

    public int Pid => _process.Id;

    /// <summary>Exited, or already let go of by the runner.</summary>
    public bool HasExited
    {
        get
        {
            try
            {
                return _process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true; // disposed: the runner let go of this incarnation
            }
        }
    }

    /// <summary>The last lines of the daemon's log.</summary>
    public string Log => _process.Log;

    public static async Task<SoakDaemon> StartAsync(string root, int incarnation, CancellationToken cancellationToken)
    {
        var process = BenchProcess.StartHost($"daemon #{incarnation}", ["--sim-root", root, "--log-level", "Warning"],
            new Dictionary<string, string> { [SoakFaultEndpoint.EnvironmentVariable] = "1" });
        try
        {
            var url = await process.WaitForLineAsync("ADMIN_URL=", ReadyTimeout, cancellationToken).ConfigureAwait(false);
            await process.WaitForLineAsync("READY", ReadyTimeout, cancellationToken).ConfigureAwait(false);
            return new SoakDaemon(process, url);
        }
        catch
        {
            await process.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<StatusDocument> StatusAsync(CancellationToken cancellationToken) =>
        await _http.GetFromJsonAsync<StatusDocument>("/status", AdminJson.Options, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("GET /status returned nothing");

    /// <summary>
    /// <see cref="Resources"/> with the daemon's own figures for its memory from <c>/metrics</c>: the GC's
    /// heap and committed bytes and the packet-buffer pool's kept bytes (-1 for one it does not serve).
    /// </summary>
    public async Task<SoakResources> MemoryAsync(CancellationToken cancellationToken)
    {
        var text = await _http.GetStringAsync("/metrics", cancellationToken).ConfigureAwait(false);
        long Figure(string name)
        {
            foreach (var line in text.AsSpan().EnumerateLines())
            {
                if (line.StartsWith(name + " ", StringComparison.Ordinal)
                    && double.TryParse(line[(name.Length + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                    return (long)value;
            }
            return -1;
        }
        return Resources() with
        {
            GcHeapBytes = Figure("xnb_gc_heap_bytes"),
            GcCommittedBytes = Figure("xnb_gc_committed_bytes"),
            PoolKeptBytes = Figure("xnb_packet_buffers_kept_bytes"),
        };
    }

    /// <summary>Makes vif D.H's TX or RX ring actor throw.</summary>
    public async Task InjectRingFaultAsync(ushort domid, bool tx, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync(string.Create(CultureInfo.InvariantCulture,
            $"{SoakFaultEndpoint.Path}?domid={domid}&handle=0&ring={(tx ? "tx" : "rx")}"), null, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>SIGTERM and the exit code (killed, and -1 returned, if it takes longer than 30 s).</summary>
    public Task<int> StopAsync() => _process.StopAsync(TimeSpan.FromSeconds(30));

    /// <summary>SIGKILL, and waits for the process to be gone.</summary>
    public async Task KillAsync()
    {
        _process.Signal(9);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <summary>
    /// VmRSS in KiB, split as the kernel splits it (RssAnon: the GC heap, native buffers, the runtime's own
    /// memory; RssFile: pages of the code files mapped in; RssShmem), and the number of open file
    /// descriptors, from <c>/proc/PID</c>.
    /// </summary>
    public SoakResources Resources()
    {
        var pid = Pid.ToString(CultureInfo.InvariantCulture);
        long rss = -1, anon = -1, file = -1, shmem = -1;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                rss = KiB(line);
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                anon = KiB(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                file = KiB(line);
            else if (line.StartsWith("RssShmem:", StringComparison.Ordinal))
                shmem = KiB(line);
        }
        return new SoakResources(rss, Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length, anon, file, shmem);
    }

    private static long KiB(string line) =>
        long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>
    /// What each open file descriptor refers to (sockets, pipes and anonymous inodes by kind only),
    /// counted; those this process holds too are left out: the daemon inherited them when it was started
    /// (a pipe of another child of ours that was open at that moment), they are not its own.
    /// </summary>
    public Dictionary<string, int> FdTargets()
    {
        var ours = new HashSet<string>(Targets("self"), StringComparer.Ordinal);
        var targets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var target in Targets(Pid.ToString(CultureInfo.InvariantCulture)))
        {
            if (target.Contains(":[", StringComparison.Ordinal) && ours.Contains(target))
                continue;
            var bracket = target.IndexOf(":[", StringComparison.Ordinal);
            var kind = bracket > 0 ? target[..bracket] : target;
            targets[kind] = targets.GetValueOrDefault(kind) + 1;
        }
        return targets;
    }

    private static IEnumerable<string> Targets(string pid)
    {
        foreach (var fd in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while we looked
            }
            if (target is not null)
                yield return target;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync().ConfigureAwait(false);
    }

}
