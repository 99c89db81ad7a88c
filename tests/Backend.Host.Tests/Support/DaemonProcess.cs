using System.Diagnostics;
using System.Threading.Channels;

namespace Backend.Host.Tests.Support;

/// <summary>
/// The daemon run as its own process, as an outside launcher would (SIMXEN "Running the daemon"): its
/// stdout lines are collected so a test can wait for SIMXEN_ROOT, ADMIN_URL and READY.
/// </summary>
public sealed class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];

    private DaemonProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _lines.Writer.TryComplete();
                return;
            }
            lock (_stdout)
                _stdout.Add(e.Data);
            _lines.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (_stderr)
                    _stderr.Add(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public string Stderr
    {
        get { lock (_stderr) return string.Join('\n', _stderr); }
    }

    public string Stdout
    {
        get { lock (_stdout) return string.Join('\n', _stdout); }
    }

    public static string HostDll => Path.Combine(AppContext.BaseDirectory, "Backend.Host.dll");

    public static DaemonProcess Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <summary>Starts it with <paramref name="environment"/> added to this process's environment.</summary>
    public static DaemonProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartProgram("dotnet", environment, [HostDll, .. args]);

    /// <summary>Starts <paramref name="program"/> (a published daemon's own executable, for one).</summary>
    public static DaemonProcess StartProgram(string program, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
            info.Environment[name] = value;
        foreach (var a in args)
            info.ArgumentList.Add(a);
        return new DaemonProcess(Process.Start(info)!);
    }

    /// <summary>Waits for a stdout line starting with <paramref name="prefix"/> and returns it.</summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(cts.Token))
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                    return line;
        }
        catch (OperationCanceledException)
        {
        }
        throw new TimeoutException($"no '{prefix}' line from the daemon within {timeout}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
    }

    public void Signal(int signal) => _ = Tmds.Linux.LibC.kill(_process.Id, signal);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // Which process did not end, and what it wrote: a bare TaskCanceledException said neither.
            throw new TimeoutException($"the daemon (pid {_process.Id}) did not exit within {timeout}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
