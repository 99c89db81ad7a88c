using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Backend.Host.Admin;
using Backend.Host.Fleet;
using Backend.Host.Hosting;

namespace Backend.Host.Cli;

/// <summary>
/// <c>status</c>: asks a running daemon's admin endpoint for <c>/status</c> and prints a table. The
/// endpoint, its token and its certificate come from the options, else from the daemon's own settings
/// (<c>--config</c>, <c>XNB_*</c>), so <c>xnb status --config /etc/xnb/xnb.json</c> needs nothing else.
/// </summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var admin = new Option<string?>("--admin") { Description = "The daemon's admin URL (ADMIN_URL)." };
        var simRoot = new Option<string?>("--sim-root") { Description = "Find the admin URL in ROOT/dom<B>/admin-url." };
        var domid = new Option<int>("--domid") { Description = "The backend domain under --sim-root (default 0).", DefaultValueFactory = _ => 0 };
        var config = new Option<string?>("--config") { Description = "The daemon's settings file: its Admin URL, AdminToken(File) and AdminCertificate are used." };
        var tokenFile = new Option<string?>("--token-file") { Description = "A file whose first line is the admin token (else AdminTokenFile/AdminToken of the settings, or XNB_ADMINTOKEN)." };
        var caCert = new Option<string?>("--cacert") { Description = "Trust the certificates of this file (PEM or PKCS#12): the daemon's own, or its CA (else AdminCertificate of the settings)." };
        var fleet = new Option<bool>("--fleet") { Description = "Print every member of the daemon's fleet with its vifs (GET /fleet) instead of this host's vifs." };
        var command = new Command("status", "Print the vifs of a running daemon (or, with --fleet, of its whole fleet) as a table.") { admin, simRoot, domid, config, tokenFile, caCert, fleet };
        command.SetAction(async (parse, cancellationToken) =>
        {
            DaemonSettings settings;
            try
            {
                settings = SettingsLoader.Load(parse.GetValue(config));
            }
            catch (StartupException ex)
            {
                Console.Error.WriteLine($"xnb status: {ex.Message}");
                return 2;
            }
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
            var baseUri = AdminClient.Reach(url ?? settings.Admin);
            if (baseUri is null)
            {
                Console.Error.WriteLine("xnb status: give --admin URL, --sim-root ROOT, or --config FILE with an Admin URL that names its port");
                return 2;
            }

            string? token = null;
            X509Certificate2Collection? trusted = null;
            try
            {
                if ((parse.GetValue(tokenFile) ?? settings.AdminTokenFile) is { } path)
                    token = SecretFile.ReadFirstLine(path, out var why) ?? throw new IOException(why);
                else
                    token = settings.AdminToken;
                if ((parse.GetValue(caCert) ?? settings.AdminCertificate) is { } certificates)
                    trusted = AdminClient.LoadTrusted(certificates);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                Console.Error.WriteLine($"xnb status: {ex.Message}");
                return 2;
            }

            using var http = AdminClient.Create(baseUri, token, trusted);
            var resource = parse.GetValue(fleet) ? "/fleet" : "/status";
            string table;
            try
            {
                using var response = await http.GetAsync(resource, cancellationToken);
                if (response.StatusCode == HttpStatusCode.Unauthorized)
                {
                    Console.Error.WriteLine($"xnb status: {baseUri}: 401 Unauthorized ({(token is null ? "the endpoint asks for a token: give --token-file or --config" : "the token was refused")})");
                    return 1;
                }
                response.EnsureSuccessStatusCode();
                table = resource == "/fleet"
                    ? FleetTable.Format((await response.Content.ReadFromJsonAsync<FleetDocument>(AdminJson.Options, cancellationToken))!)
                    : StatusTable.Format((await response.Content.ReadFromJsonAsync<StatusDocument>(AdminJson.Options, cancellationToken))!);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                Console.Error.WriteLine($"xnb status: {baseUri}: {ex.Message}{(ex.InnerException is { } inner ? $" ({inner.Message})" : "")}");
                return 1;
            }
            Console.Out.Write(table);
            return 0;
        });
        return command;
    }
}
