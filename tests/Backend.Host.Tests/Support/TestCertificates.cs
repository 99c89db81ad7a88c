using System.Runtime.Versioning;
using System.Diagnostics;

namespace Backend.Host.Tests.Support;

/// <summary>
/// Certificates made with <c>openssl</c> in a fresh directory, removed at the end: a CA, a server
/// certificate it signed for 127.0.0.1 (PEM, key apart, mode 0600), the same as PKCS#12 without password,
/// and a self-signed certificate for another name.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(string directory) => Directory = directory;

    public string Directory { get; }

    public string CaCertificate => Path.Combine(Directory, "ca.pem");

    public string ServerCertificate => Path.Combine(Directory, "server.pem");

    public string ServerKey => Path.Combine(Directory, "server.key");

    public string ServerPkcs12 => Path.Combine(Directory, "server.p12");

    /// <summary>Self-signed, CN and SAN "elsewhere.invalid": trusted for 127.0.0.1 only when pinned.</summary>
    public string OtherCertificate => Path.Combine(Directory, "other.pem");

    public string OtherKey => Path.Combine(Directory, "other.key");

    public static async Task<TestCertificates> CreateAsync()
    {
        Prerequisites.RequireOpenssl();
        var dir = Path.Combine(Path.GetTempPath(), $"xnb-certs-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(dir);
        var c = new TestCertificates(dir);
        await OpenSsl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=xnb test CA",
            "-keyout", "ca.key", "-out", "ca.pem");
        await OpenSsl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr");
        await File.WriteAllTextAsync(Path.Combine(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        await OpenSsl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.pem");
        await OpenSsl(dir, "pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-passout", "pass:", "-out", "server.p12");
        await OpenSsl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=elsewhere.invalid",
            "-addext", "subjectAltName=DNS:elsewhere.invalid", "-keyout", "other.key", "-out", "other.pem");
        foreach (var secret in new[] { c.ServerKey, c.ServerPkcs12, c.OtherKey })
            File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return c;
    }

    /// <summary>A fleet node's certificate, signed by the CA, for both ends of mutual TLS: PKCS#12 with <see cref="FleetPassword"/>.</summary>
    public string FleetPkcs12 => Path.Combine(Directory, "fleet.p12");

    /// <summary>Self-signed, for both ends of mutual TLS, PKCS#12 with <see cref="FleetPassword"/>: a node that is not of the fleet.</summary>
    public string RoguePkcs12 => Path.Combine(Directory, "rogue.p12");

    public const string FleetPassword = "fleet-secret";

    /// <summary>Makes <see cref="FleetPkcs12"/> and <see cref="RoguePkcs12"/> (the admin tests need neither).</summary>
    public async Task AddFleetCertificatesAsync()
    {
        var dir = Directory;
        await File.WriteAllTextAsync(Path.Combine(dir, "fleet.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
        await OpenSsl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=xnb fleet node", "-keyout", "fleet.key", "-out", "fleet.csr");
        await OpenSsl(dir, "x509", "-req", "-in", "fleet.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "fleet.ext", "-out", "fleet.pem");
        await OpenSsl(dir, "pkcs12", "-export", "-in", "fleet.pem", "-inkey", "fleet.key", "-passout", "pass:" + FleetPassword, "-out", "fleet.p12");
        await OpenSsl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=xnb fleet node",
            "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "extendedKeyUsage=serverAuth,clientAuth", "-keyout", "rogue.key", "-out", "rogue.pem");
        await OpenSsl(dir, "pkcs12", "-export", "-in", "rogue.pem", "-inkey", "rogue.key", "-passout", "pass:" + FleetPassword, "-out", "rogue.p12");
        foreach (var secret in new[] { "fleet.key", "fleet.p12", "rogue.key", "rogue.p12" })
            File.SetUnixFileMode(Path.Combine(dir, secret), UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>Writes <paramref name="content"/> to a file of this directory with <paramref name="mode"/>.</summary>
    public string WriteFile(string name, string content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private static async Task OpenSsl(string dir, params string[] args)
    {
        var info = new ProcessStartInfo("openssl") { WorkingDirectory = dir, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        Assert.True(p.ExitCode == 0, $"openssl {string.Join(' ', args)} failed: {await stderr}");
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }
}
