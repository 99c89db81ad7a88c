using System.CommandLine;
using System.Net.Http.Json;
using Backend.Host.Admin;

namespace Backend.Host.Cli;

/// <summary><c>status</c>: asks a running daemon's admin endpoint for <c>/status</c> and prints a table.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var admin = new Option<string?>("--admin") { Description = "The daemon's admin URL (ADMIN_URL)." };
        var simRoot = new Option<string?>("--sim-root") { Description = "Find the admin URL in ROOT/dom<B>/admin-url." };
        var domid = new Option<int>("--domid") { Description = "The backend domain under --sim-root (default 0).", DefaultValueFactory = _ => 0 };
        var command = new Command("status", "Print the vifs of a running daemon as a table.") { admin, simRoot, domid };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var url = parse.GetValue(admin);
            if (url is null && parse.GetValue(simRoot) is { } root)
            {
                var file = Path.Combine(root, $"dom{parse.GetValue(domid)}", "admin-url");
                if (!File.Exists(file))
                {
                    Console.Error.WriteLine($"xnb status: {file} does not exist (is the daemon running on that root?)");
                    return 1;
                }
                url = (await File.ReadAllTextAsync(file, cancellationToken)).Trim();
            }
            if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var baseUri))
            {
                Console.Error.WriteLine("xnb status: give --admin URL or --sim-root ROOT");
                return 2;
            }
            using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
            StatusDocument? status;
            try
            {
                status = await http.GetFromJsonAsync<StatusDocument>("/status", AdminJson.Options, cancellationToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                Console.Error.WriteLine($"xnb status: {baseUri}: {ex.Message}");
                return 1;
            }
            Console.Out.Write(StatusTable.Format(status!));
            return 0;
        });
        return command;
    }
}
