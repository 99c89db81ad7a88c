using System.CommandLine;
using Backend.Host.Cli;

namespace Backend.Host;

public static class Program
{
    public static Task<int> Main(string[] args) => BuildCommandLine().Parse(args).InvokeAsync();

    public static RootCommand BuildCommandLine()
    {
        var root = DaemonCommand.Create();
        root.Add(XenstoredCommand.Create());
        root.Add(StatusCommand.Create());
        root.Add(ToolstackCommand.Create());
        root.Add(SimGuestCommand.Create());
        root.Add(BenchCommand.Create());
        return root;
    }
}
