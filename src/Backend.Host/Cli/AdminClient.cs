using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Backend.Host.Admin;

namespace Backend.Host.Cli;

/// <summary>
/// An HTTP client for a daemon's admin endpoint: sends the bearer token when one is given, and over https
/// trusts, besides the system's roots, the certificates of a file: the daemon's own certificate (pinned:
/// accepted as it is, whatever name the URL uses) or a CA (the chain must end there and the name match).
/// </summary>
public static class AdminClient
{
    public static HttpClient Create(Uri baseUri, string? token, X509Certificate2Collection? trusted)
    {
        var handler = new SocketsHttpHandler();
        if (trusted is { Count: > 0 })
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Trusts(trusted, certificate, chain, errors);
        var http = new HttpClient(handler) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>
    /// The URL to reach an endpoint bound to <paramref name="adminUrl"/> from this host: a wildcard
    /// address (0.0.0.0, ::, *, +) is reached on loopback. Null when the URL names no port to connect to.
    /// </summary>
    public static Uri? Reach(string adminUrl)
    {
        if (!Uri.TryCreate(adminUrl, UriKind.Absolute, out var uri) || uri.Port == 0)
            return null;
        var host = uri.Host.Trim('[', ']');
        if (host is "*" or "+" || (IPAddress.TryParse(host, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))))
            return new UriBuilder(uri) { Host = "127.0.0.1" }.Uri;
        return uri;
    }

    /// <summary>The certificates of a PEM file (one or more) or a PKCS#12 file without password.</summary>
    public static X509Certificate2Collection LoadTrusted(string path)
    {
        var certificates = new X509Certificate2Collection();
        if (AdminAccess.IsPem(path))
            certificates.ImportFromPemFile(path);
        else
            certificates.AddRange(X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password: null));
        return certificates;
    }

    internal static bool Trusts(X509Certificate2Collection trusted, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
            return true;
        if (certificate is not X509Certificate2 server)
            return false;
        if (IsOneOf(trusted, server))
            return true;
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
            return false;
        return ChainsTo(trusted, server, chain);
    }

    /// <summary>True when <paramref name="certificate"/> is one of <paramref name="trusted"/>, byte for byte (pinned).</summary>
    internal static bool IsOneOf(X509Certificate2Collection trusted, X509Certificate2 certificate)
    {
        foreach (var t in trusted)
            if (t.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                return true;
        return false;
    }

    /// <summary>True when <paramref name="server"/> chains to one of <paramref name="trusted"/> (and only those: not the system's roots).</summary>
    internal static bool ChainsTo(X509Certificate2Collection trusted, X509Certificate2 server, X509Chain? chain)
    {
        using var ours = new X509Chain();
        ours.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        ours.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        ours.ChainPolicy.CustomTrustStore.AddRange(trusted);
        if (chain is not null)
            foreach (var element in chain.ChainElements)
                ours.ChainPolicy.ExtraStore.Add(element.Certificate);
        return ours.Build(server);
    }
}
