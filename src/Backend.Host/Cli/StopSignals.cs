using System.Runtime.InteropServices;

namespace Backend.Host.Cli;

/// <summary>
/// The process's one owner of SIGINT and SIGTERM (decision 89). The first signal cancels the command's
/// token and the command stops in order; the process ends with the command's own exit code, or with
/// 130/143 if the stop takes longer than the stop timeout; a second signal ends it at once.
/// </summary>
/// <remarks>
/// System.CommandLine's own handler is not used: it takes a signal that comes before the command's
/// first <c>await</c> that yields as "no command running" and forces 130/143 at once, while the command
/// goes on stopping; our daemon can run to READY without yielding, so a SIGTERM right after READY
/// exited 143 with the stop cut short. The web host's console lifetime is not used either
/// (<see cref="Hosting.CommandLineHostLifetime"/>), so no other code reacts to these signals.
/// </remarks>
public sealed class StopSignals : IDisposable
{
    public const int SigIntExitCode = 130;
    public const int SigTermExitCode = 143;

    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<int> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _second = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _signals;

    /// <summary>Without registering with the OS: <see cref="Raise"/> is then the only source of signals (tests).</summary>
    public StopSignals()
    {
    }

    /// <summary>Takes SIGINT and SIGTERM for this process until disposed.</summary>
    public static StopSignals Register()
    {
        var signals = new StopSignals();
        foreach (var signal in (PosixSignal[])[PosixSignal.SIGINT, PosixSignal.SIGTERM])
        {
            signals._registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                // Ours: the runtime's default (ending the process) never runs.
                context.Cancel = true;
                signals.Raise(context.Signal);
            }));
        }
        return signals;
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>What a signal does; runs on the runtime's signal thread.</summary>
    public void Raise(PosixSignal signal)
    {
        var code = signal == PosixSignal.SIGINT ? SigIntExitCode : SigTermExitCode;
        if (Interlocked.Increment(ref _signals) > 1)
        {
            _second.TrySetResult(code);
            return;
        }
        _first.TrySetResult(code);
        try
        {
            // The command's cancellation callbacks (its stop, up to its first yield) run here.
            _stop.Cancel();
        }
        catch (AggregateException ex)
        {
            // A callback that throws must not end the process from the signal thread; the command's
            // own await sees the cancellation all the same.
            Console.Error.WriteLine($"xnb: stopping: {ex.InnerException?.Message ?? ex.Message}");
        }
    }

    /// <summary>
    /// Runs <paramref name="command"/> with <see cref="Token"/> and returns its exit code, unless a signal
    /// came and the command has not ended within <paramref name="stopTimeout"/> of it (or a second signal
    /// came): then 130 for SIGINT, 143 for SIGTERM.
    /// </summary>
    public async Task<int> RunAsync(Func<CancellationToken, Task<int>> command, TimeSpan stopTimeout)
    {
        var run = command(_stop.Token);
        var forced = ForcedExitAsync(stopTimeout);
        return await await Task.WhenAny(run, forced);
    }

    private async Task<int> ForcedExitAsync(TimeSpan stopTimeout)
    {
        var code = await _first.Task;
        // The delay left running after a second signal is harmless: the process is ending.
        return await Task.WhenAny(_second.Task, Task.Delay(stopTimeout)) == _second.Task ? await _second.Task : code;
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
        _registrations.Clear();
        _stop.Dispose();
    }
}
