using System.Runtime.Versioning;
using System.Net;
using System.Net.Http.Headers;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// Issue 17, part 4: with a token configured the admin endpoint answers 401 without it (but /healthz), and
/// it serves HTTPS with a certificate file; the status subcommand passes the token and trusts the
/// certificate it is given.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class AdminEndpointSecurityTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);
    private const string Token = "t0ken-for-the-admin-endpoint";

    private static async Task<(int Code, string Stdout, string Stderr)> Status(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        await using var status = DaemonProcess.Start(environment, ["status", .. args]);
        var code = await status.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (code, status.Stdout, status.Stderr);
    }

    private static Task<(int Code, string Stdout, string Stderr)> Status(params string[] args) => Status(new Dictionary<string, string>(), args);

    private static string TokenFile(SimTestRoot root)
    {
        Directory.CreateDirectory(root.Path);
        var file = Path.Combine(root.Path, "admin-token");
        File.WriteAllText(file, Token + "\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return file;
    }

    [Fact]
    public async Task With_a_token_file_every_path_but_healthz_answers_401_without_the_bearer_token()
    {
        using var root = new SimTestRoot();
        var tokenFile = TokenFile(root);
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path, "--admin-token-file", tokenFile);
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("READY", Start);
        using var http = new HttpClient { BaseAddress = new Uri(url) };

        Assert.Equal("ok", (await http.GetStringAsync("/healthz")).Trim());
        foreach (var path in new[] { "/", "/status", "/metrics", "/nothing-here" })
        {
            using var anonymous = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Bearer", Assert.Single(anonymous.Headers.WwwAuthenticate).Scheme);
        }
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token + "x") } })
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        using (var right = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } })
        {
            using var response = await http.SendAsync(right);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("\"backendDomId\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var refused = await Status("--sim-root", root.Path);
        Assert.Equal(1, refused.Code);
        Assert.Contains("401", refused.Stderr, StringComparison.Ordinal);
        var byFile = await Status("--sim-root", root.Path, "--token-file", tokenFile);
        Assert.True(byFile.Code == 0, byFile.Stderr);
        Assert.Contains("backend domain 0, 0 vif(s)", byFile.Stdout, StringComparison.Ordinal);
        var byEnvironment = await Status(new Dictionary<string, string> { ["XNB_ADMINTOKEN"] = Token }, "--sim-root", root.Path);
        Assert.True(byEnvironment.Code == 0, byEnvironment.Stderr);
    }

    [SkippableFact]
    public async Task Over_https_it_presents_the_certificate_file_and_status_trusts_the_CA_or_the_configured_certificate()
    {
        using var certs = await TestCertificates.CreateAsync();
        using var root = new SimTestRoot();
        var tokenFile = TokenFile(root);
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path, "--admin", "https://127.0.0.1:0",
            "--admin-certificate", certs.ServerCertificate, "--admin-certificate-key", certs.ServerKey, "--admin-token-file", tokenFile);
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("READY", Start);
        Assert.StartsWith("https://127.0.0.1:", url, StringComparison.Ordinal);

        var expected = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(certs.ServerCertificate).Thumbprint;
        string? presented = null;
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, cert, _, _) => (presented = cert?.Thumbprint) == expected };
        using var https = new HttpClient(handler) { BaseAddress = new Uri(url) };
        Assert.Equal("ok", (await https.GetStringAsync("/healthz")).Trim());
        Assert.Equal(expected, presented);
        Assert.Equal(HttpStatusCode.Unauthorized, (await https.GetAsync("/status")).StatusCode);
        using var plain = new HttpClient { BaseAddress = new Uri("http" + url["https".Length..]) };
        await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync("/healthz"));

        var untrusted = await Status("--admin", url, "--token-file", tokenFile);
        Assert.Equal(1, untrusted.Code);
        Assert.Contains("SSL", untrusted.Stderr, StringComparison.Ordinal);
        var byCa = await Status("--admin", url, "--token-file", tokenFile, "--cacert", certs.CaCertificate);
        Assert.True(byCa.Code == 0, byCa.Stderr);
        Assert.Contains("0 vif(s)", byCa.Stdout, StringComparison.Ordinal);

        // The daemon's own settings file is all an administrator needs to give.
        var config = certs.WriteFile("xnb.json", $$"""
            { "Xnb": { "Admin": "{{url}}", "AdminTokenFile": "{{tokenFile}}", "AdminCertificate": "{{certs.ServerCertificate}}", "AdminCertificateKey": "{{certs.ServerKey}}" } }
            """);
        var byConfig = await Status("--config", config);
        Assert.True(byConfig.Code == 0, byConfig.Stderr);
        Assert.Contains("0 vif(s)", byConfig.Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_self_signed_certificate_for_another_name_is_trusted_by_status_only_when_pinned()
    {
        using var certs = await TestCertificates.CreateAsync();
        using var root = new SimTestRoot();
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path, "--admin", "https://127.0.0.1:0",
            "--admin-certificate", certs.OtherCertificate, "--admin-certificate-key", certs.OtherKey);
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("READY", Start);

        var pinned = await Status("--admin", url, "--cacert", certs.OtherCertificate);
        Assert.True(pinned.Code == 0, pinned.Stderr);
        var otherCa = await Status("--admin", url, "--cacert", certs.CaCertificate);
        Assert.Equal(1, otherCa.Code);
    }

    [SkippableFact]
    public async Task An_unreadable_certificate_or_token_file_stops_the_daemon_with_one_line_each_and_exit_2()
    {
        using var certs = await TestCertificates.CreateAsync();
        await using var daemon = DaemonProcess.Start("--admin", "https://127.0.0.1:0", "--admin-certificate", certs.ServerCertificate,
            "--admin-token-file", Path.Combine(certs.Directory, "missing-token"));
        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var lines = daemon.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("xnb: AdminCertificate (--admin-certificate): ", StringComparison.Ordinal) && l.Contains("no private key", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("xnb: AdminTokenFile (--admin-token-file): ", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", daemon.Stderr, StringComparison.Ordinal);
    }
}
