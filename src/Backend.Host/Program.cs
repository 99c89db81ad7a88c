using System.CommandLine;
using Backend.Host.Cli;

namespace Backend.Host;

public static class Program
{
    /// <summary>
    /// How long an orderly stop (SIGTERM, Ctrl-C) may take before the process is ended anyway.
    /// System.CommandLine's default of 2 s is shorter than the stop itself on a loaded host (RX flush up
    /// to 0.5 s, then the actor system and the admin endpoint, with a 5 s host shutdown timeout), and a
    /// stop cut short exits 143 instead of 0 and loses what it was flushing.
    /// </summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    public static Task<int> Main(string[] args) =>
        BuildCommandLine().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = StopTimeout });

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
