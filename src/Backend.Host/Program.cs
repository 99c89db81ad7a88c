using System.CommandLine;
using Backend.Host.Cli;

namespace Backend.Host;

public static class Program
{
    /// <summary>
    /// How long an orderly stop (SIGTERM, Ctrl-C) may take before the process is ended anyway. Well above
    /// the stop itself on a loaded host (RX flush up to 0.5 s, then the actor system and the admin
    /// endpoint, with a 5 s host shutdown timeout): a stop cut short exits 143 instead of 0 and loses
    /// what it was flushing.
    /// </summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    public static async Task<int> Main(string[] args)
    {
        var parse = BuildCommandLine().Parse(args);
        // The command line's own signal handling is off (null): StopSignals owns SIGINT and SIGTERM.
        var configuration = new InvocationConfiguration { ProcessTerminationTimeout = null };
        using var signals = StopSignals.Register();
        return await signals.RunAsync(token => parse.InvokeAsync(configuration, token), StopTimeout);
    }

    public static RootCommand BuildCommandLine()
    {
        var root = DaemonCommand.Create();
        root.Add(XenstoredCommand.Create());
        root.Add(StatusCommand.Create());
        root.Add(ToolstackCommand.Create());
        root.Add(SimGuestCommand.Create());
        root.Add(BenchCommand.Create());
        root.Add(SoakCommand.Create());
        return root;
    }
}
