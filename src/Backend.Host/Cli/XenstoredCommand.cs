using System.CommandLine;
using Backend.Host.Hosting;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore.Server;

namespace Backend.Host.Cli;

/// <summary>
/// <c>xenstored --sim-root ROOT</c>: the embedded xenstore server alone, so that xenstore outlives daemon
/// restarts as it does on real Xen (SIMXEN "Running the daemon").
/// </summary>
public static class XenstoredCommand
{
    public static Command Create()
    {
        var simRoot = new Option<string>("--sim-root") { Description = "SIMXEN root; serves ROOT/xenstored.sock.", Required = true };
        var command = new Command("xenstored", "Run the embedded xenstore server alone on ROOT/xenstored.sock.") { simRoot };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetRequiredValue(simRoot);
            if (path.Length is 0 or > DaemonSettings.MaxSimRootLength)
            {
                Console.Error.WriteLine($"xnb xenstored: --sim-root must be 1 to {DaemonSettings.MaxSimRootLength} characters");
                return 2;
            }
            SimRoot root;
            try
            {
                root = new SimRoot(path);
            }
            catch (Exception ex) when (ex is ArgumentException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"xnb xenstored: {path}: {ex.Message}");
                return 1;
            }
            var socket = Path.Combine(root.Path, "xenstored.sock");
            XenStoreServer server;
            try
            {
                server = await XenStoreServer.StartAsync(socket, cancellationToken: cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
            {
                Console.Error.WriteLine($"xnb xenstored: {socket}: {ex.Message}");
                return 1;
            }
            await using (server)
            {
                Console.Out.WriteLine($"XENSTORED_PATH={socket}");
                Console.Out.WriteLine("READY");
                Console.Out.Flush();
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                }
            }
            return 0;
        });
        return command;
    }
}
