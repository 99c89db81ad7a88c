using System.Diagnostics;
using System.Text;

namespace Backend.Xen.Tests.Netfront;

/// <summary>
/// The C reference netback (<c>cback --root ROOT</c>) as a child process: started, awaited until it prints
/// READY, its stderr log kept for failure messages, and killed (this one process, by its handle) on dispose.
/// </summary>
public sealed class CbackProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CbackProcess(Process process) => _process = process;

    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    public static async Task<CbackProcess> StartAsync(string buildDirectory, string root, TimeSpan timeout, bool verbose = false)
    {
        var psi = new ProcessStartInfo(Path.Combine(buildDirectory, "cback"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(root);
        if (verbose)
            psi.ArgumentList.Add("-v");
        var process = new Process { StartInfo = psi };
        var cback = new CbackProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == "READY")
                cback._ready.TrySetResult();
            else if (e.Data is not null)
                cback.Append("stdout: " + e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                cback.Append(e.Data);
        };
        process.Exited += (_, _) => cback._ready.TrySetException(new InvalidOperationException("cback exited before READY:\n" + cback.Log));
        process.EnableRaisingEvents = true;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await cback._ready.Task.WaitAsync(timeout);
        }
        catch
        {
            await cback.DisposeAsync();
            throw;
        }
        return cback;
    }

    public bool HasExited => _process.HasExited;

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(cts.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }
        _process.Dispose();
    }

    private void Append(string line)
    {
        lock (_log)
            _log.AppendLine(line);
    }
}
