using System.Diagnostics;
using System.Threading.Channels;

namespace Backend.Host.Bench;

/// <summary>
/// A child process of the bench (the backend under test, or a guest process): its stdout lines are
/// awaited by prefix, the daemon's stats lines are picked out of its stderr, the rest of stderr is kept
/// (the last lines) for error messages. Stopped with SIGTERM, killed (this process only) if it lingers.
/// </summary>
internal sealed class BenchProcess : IAsyncDisposable
{
    private const int KeptLogLines = 200;
    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly Channel<string> _stats = Channel.CreateUnbounded<string>();
    private readonly Queue<string> _log = new();

    private BenchProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines of stderr (and stdout lines nobody waited for).</summary>
    public string Log
    {
        get
        {
            lock (_log)
                return string.Join('\n', _log);
        }
    }

    /// <summary>The same Backend.Host this bench runs from, started with <paramref name="arguments"/>.</summary>
    public static BenchProcess StartHost(string name, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, bool stdin = false)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Backend.Host.dll");
        var dotnet = Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        return Start(name, dotnet, [dll, .. arguments], environment, stdin);
    }

    public static BenchProcess Start(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, bool stdin = false)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
                info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info };
        var child = new BenchProcess(process, name);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                child._stdout.Writer.TryComplete();
            else
                child._stdout.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                child._stats.Writer.TryComplete();
            else if (e.Data.StartsWith(BenchStatsHook.LinePrefix, StringComparison.Ordinal))
                child._stats.Writer.TryWrite(e.Data[BenchStatsHook.LinePrefix.Length..]);
            else
                child.Keep(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for a stdout line starting with <paramref name="prefix"/>; returns the rest of it.</summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await foreach (var line in _stdout.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                    return line[prefix.Length..];
                Keep("stdout: " + line);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{Name}: no '{prefix}' line within {timeout.TotalSeconds:F0} s\n{Log}");
        }
        throw new InvalidOperationException($"{Name} exited before printing '{prefix}'\n{Log}");
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Sends SIGUSR1 and waits for the daemon's next stats line.</summary>
    public async Task<string> RequestStatsAsync(TimeSpan timeout)
    {
        Signal(BenchStatsHook.SigUsr1);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await _stats.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name}: no stats line within {timeout.TotalSeconds:F0} s of SIGUSR1 (is {BenchStatsHook.EnvironmentVariable}=1 set?)\n{Log}");
        }
    }

    public void Signal(int signal) => _ = Tmds.Linux.LibC.kill(_process.Id, signal);

    /// <summary>SIGTERM, then waits; kills it if it has not exited by then. Returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
            Signal(15);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        return _process.ExitCode;
    }

    /// <summary>Waits for it to exit by itself; kills it if it has not exited by then.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }
        _process.Dispose();
    }

    private void Keep(string line)
    {
        lock (_log)
        {
            _log.Enqueue(line);
            while (_log.Count > KeptLogLines)
                _log.Dequeue();
        }
    }
}
