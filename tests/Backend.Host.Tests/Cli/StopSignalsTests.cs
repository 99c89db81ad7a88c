using System.Runtime.InteropServices;
using Backend.Host.Cli;

namespace Backend.Host.Tests.Cli;

/// <summary>
/// The process's SIGINT/SIGTERM owner, driven through <see cref="StopSignals.Raise"/> (no OS signal: the
/// test host's own signals stay the runtime's).
/// </summary>
public sealed class StopSignalsTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_signal_before_the_command_first_yields_still_waits_for_its_orderly_stop()
    {
        // The 143 that DaemonTapSwitchTests saw: System.CommandLine forced 143 at once for a signal that
        // came while the command had not yet returned its task, and the stop was cut short.
        using var signals = new StopSignals();
        var stopped = false;
        var code = await signals.RunAsync(async token =>
        {
            signals.Raise(PosixSignal.SIGTERM);
            Assert.True(token.IsCancellationRequested);
            await Task.Delay(200, CancellationToken.None);
            stopped = true;
            return 0;
        }, Long);
        Assert.Equal(0, code);
        Assert.True(stopped);
    }

    [Fact]
    public async Task The_command_exit_code_is_the_process_exit_code_after_a_signal()
    {
        using var signals = new StopSignals();
        var run = signals.RunAsync(async token =>
        {
            await Task.Delay(Timeout.Infinite, token).ContinueWith(_ => { }, TaskScheduler.Default);
            await Task.Yield();
            return 7;
        }, Long);
        signals.Raise(PosixSignal.SIGINT);
        Assert.Equal(7, await run.WaitAsync(Long));
    }

    [Theory]
    [InlineData(PosixSignal.SIGTERM, StopSignals.SigTermExitCode)]
    [InlineData(PosixSignal.SIGINT, StopSignals.SigIntExitCode)]
    public async Task A_stop_that_outlasts_the_timeout_ends_with_the_signals_code(PosixSignal signal, int expected)
    {
        using var signals = new StopSignals();
        var hung = new TaskCompletionSource<int>();
        var run = signals.RunAsync(_ => hung.Task, TimeSpan.FromMilliseconds(100));
        signals.Raise(signal);
        Assert.Equal(expected, await run.WaitAsync(Long));
        Assert.False(hung.Task.IsCompleted);
    }

    [Fact]
    public async Task A_second_signal_ends_the_process_at_once()
    {
        using var signals = new StopSignals();
        var hung = new TaskCompletionSource<int>();
        var run = signals.RunAsync(_ => hung.Task, Long);
        signals.Raise(PosixSignal.SIGTERM);
        await Task.Delay(50);
        Assert.False(run.IsCompleted, "one signal waits for the stop");
        signals.Raise(PosixSignal.SIGINT);
        Assert.Equal(StopSignals.SigIntExitCode, await run.WaitAsync(Long));
    }

    [Fact]
    public async Task Without_a_signal_the_command_runs_to_its_end()
    {
        using var signals = new StopSignals();
        var code = await signals.RunAsync(async token =>
        {
            await Task.Delay(50, token);
            return 3;
        }, TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, code);
    }

    [Fact]
    public async Task A_cancellation_callback_that_throws_does_not_escape_the_signal()
    {
        using var signals = new StopSignals();
        signals.Token.Register(() => throw new InvalidOperationException("callback"));
        var released = new TaskCompletionSource<int>();
        var run = signals.RunAsync(_ => released.Task, Long);
        signals.Raise(PosixSignal.SIGTERM);
        Assert.True(signals.Token.IsCancellationRequested);
        released.SetResult(0);
        Assert.Equal(0, await run.WaitAsync(Long));
    }
}
