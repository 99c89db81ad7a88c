using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Backend.Host.Hosting;

namespace Backend.Host.Admin;

/// <summary>
/// Who may use the admin endpoint and how it is reached: the bearer token (from <c>AdminToken</c> or
/// <c>AdminTokenFile</c>) and the HTTPS certificate (<c>AdminCertificate</c>, PEM with
/// <c>AdminCertificateKey</c> or the key in the same file, or a PKCS#12 file without password), read once
/// at start. What cannot be read is a settings error (one line each, exit 2); a secret file that others
/// may read is a warning.
/// </summary>
public sealed class AdminAccess : IDisposable
{
    private AdminAccess(AdminToken? token, X509Certificate2? certificate)
    {
        Token = token;
        Certificate = certificate;
    }

    /// <summary>Null: no token configured, every request is served.</summary>
    public AdminToken? Token { get; }

    /// <summary>The server certificate (with its private key) for an https admin URL, else null.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>Plain http, no token: the default on loopback.</summary>
    public static AdminAccess Open { get; } = new(null, null);

    /// <summary>
    /// Reads the token and the certificate that <paramref name="settings"/> (already validated) name.
    /// Returns null when any could not be read, with one line per problem in <paramref name="errors"/>.
    /// </summary>
    public static AdminAccess? Load(DaemonSettings settings, List<string> errors, List<string> warnings)
    {
        var before = errors.Count;
        var token = LoadToken(settings, errors, warnings);
        var certificate = settings.AdminCertificate is { } path
            ? LoadCertificate("AdminCertificate", "AdminCertificateKey", "(--admin-certificate)", path, settings.AdminCertificateKey, null, errors, warnings)
            : null;
        if (errors.Count == before)
            return new AdminAccess(token, certificate);
        certificate?.Dispose();
        return null;
    }

    private static AdminToken? LoadToken(DaemonSettings settings, List<string> errors, List<string> warnings)
    {
        string? why;
        if (settings.AdminToken is { } inline)
        {
            var token = AdminToken.Parse(inline, out why);
            if (token is null)
                errors.Add($"AdminToken: {why}");
            return token;
        }
        if (settings.AdminTokenFile is not { } file)
            return null;
        var text = SecretFile.ReadFirstLine(file, out why);
        if (text is null)
        {
            errors.Add($"AdminTokenFile (--admin-token-file): {why}");
            return null;
        }
        if (SecretFile.OpenModeWarning("AdminTokenFile", file) is { } open)
            warnings.Add(open);
        var fromFile = AdminToken.Parse(text, out why);
        if (fromFile is null)
            errors.Add($"AdminTokenFile (--admin-token-file): the token in {file} {why}");
        return fromFile;
    }

    /// <summary>
    /// A certificate with its private key: PEM (the key in <paramref name="keyPath"/> or the same file) or
    /// PKCS#12 (with <paramref name="password"/>, or none). Also loads the fleet's remoting certificate
    /// (<see cref="Fleet.ClusterTls"/>); the names say which setting an error is about.
    /// </summary>
    internal static X509Certificate2? LoadCertificate(
        string name, string keyName, string option, string path, string? keyPath, string? password, List<string> errors, List<string> warnings)
    {
        var setting = option.Length > 0 ? $"{name} {option}" : name;
        X509Certificate2 certificate;
        try
        {
            var pem = IsPem(path);
            if (pem && keyPath is null && !File.ReadAllText(path).Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            {
                errors.Add($"{setting}: {path} has no private key (give {keyName}, or a PKCS#12 file with the key)");
                return null;
            }
            certificate = pem
                ? X509Certificate2.CreateFromPemFile(path, keyPath)
                : X509CertificateLoader.LoadPkcs12FromFile(path, password);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            var what = keyPath is null ? path : $"{path} with key {keyPath}";
            errors.Add($"{setting}: cannot load {what}: {ex.Message}");
            return null;
        }
        if (!certificate.HasPrivateKey)
        {
            errors.Add($"{setting}: {path} has no private key (give {keyName}, or a PKCS#12 file with the key)");
            certificate.Dispose();
            return null;
        }
        if (SecretFile.OpenModeWarning(keyPath is null ? name : keyName, keyPath ?? path) is { } open)
            warnings.Add(open);
        if (certificate.NotAfter < DateTime.Now)
            warnings.Add($"{setting}: {certificate.Subject} expired on {certificate.NotAfter:u}; clients will refuse it");
        return certificate;
    }

    /// <summary>PEM is text beginning with a <c>-----BEGIN</c> line; anything else is taken for PKCS#12.</summary>
    internal static bool IsPem(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[64];
        var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return System.Text.Encoding.ASCII.GetString(head[..n]).TrimStart().StartsWith("-----BEGIN", StringComparison.Ordinal);
    }

    public void Dispose() => Certificate?.Dispose();
}
