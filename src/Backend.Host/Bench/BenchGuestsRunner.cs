using System.Globalization;
using System.Text.Json;
using Backend.Xen.Platform.Sim;

namespace Backend.Host.Bench;

/// <summary>
/// The body of the hidden <c>bench guests</c> command: hosts the guests, prints
/// <c>CONNECTED {json}</c> once they are all Connected, then runs each workload named on stdin
/// (<c>run windowed|unpaced|pingpong SIZE SECONDS</c>) and prints <c>RESULT {json}</c> (or
/// <c>FAILED reason</c>); <c>quit</c> or the end of stdin lets the guests go.
/// </summary>
internal static class BenchGuestsRunner
{
    public const string ConnectedPrefix = "CONNECTED ";
    public const string ResultPrefix = "RESULT ";
    public const string FailedPrefix = "FAILED ";

    public static async Task<int> RunAsync(string rootPath, string? xenstore, ushort backendDomId, ushort firstDomId, int pairs, bool broadcast, CancellationToken cancellationToken)
    {
        var root = new SimRoot(rootPath);
        var socket = xenstore ?? Path.Combine(root.Path, "xenstored.sock");
        BenchGuestHost host;
        try
        {
            host = await BenchGuestHost.StartAsync(root, socket, backendDomId, firstDomId, pairs, broadcast, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Console.Out.WriteLine(FailedPrefix + e.Message.ReplaceLineEndings(" "));
            return 1;
        }
        await using (host)
        {
            Console.Out.WriteLine(ConnectedPrefix + JsonSerializer.Serialize(new GuestsConnected(host.Guests, host.ConnectSeconds), BenchJson.Line));
            Console.Out.Flush();
            while (await Console.In.ReadLineAsync(cancellationToken) is { } line)
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length == 0)
                    continue;
                if (words[0] == "quit")
                    break;
                if (words is not ["run", var workload, var sizeText, var secondsText]
                    || !int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var size)
                    || !double.TryParse(secondsText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
                {
                    Console.Out.WriteLine(FailedPrefix + $"not a command: \"{line}\" (run windowed|unpaced|pingpong SIZE SECONDS, or quit)");
                    continue;
                }
                try
                {
                    var result = await host.RunAsync(workload, size, seconds, cancellationToken);
                    Console.Out.WriteLine(ResultPrefix + JsonSerializer.Serialize(result, BenchJson.Line));
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or TimeoutException)
                {
                    Console.Out.WriteLine(FailedPrefix + e.Message.ReplaceLineEndings(" "));
                }
                Console.Out.Flush();
            }
        }
        return 0;
    }
}
