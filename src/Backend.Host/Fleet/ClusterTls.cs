using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Backend.Host.Admin;
using Backend.Host.Hosting;
using Backend.Host.Cli;

namespace Backend.Host.Fleet;

/// <summary>
/// Mutual TLS between the fleet's daemons (<c>Cluster:Tls</c>): the certificate this node presents, and
/// whom it accepts: a peer whose certificate chains to <c>Authority</c>, or, without one, a peer that
/// presents the very same certificate. Akka's own chain check would use the system's roots, which would
/// let any certificate a public CA signed into the fleet; ours trusts only what the settings name.
/// </summary>
public sealed class ClusterTls : IDisposable
{
    private readonly X509Certificate2Collection _trusted;

    private ClusterTls(X509Certificate2 certificate, X509Certificate2Collection trusted)
    {
        Certificate = certificate;
        _trusted = trusted;
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>Reads the files of <paramref name="tls"/> (validated); null with one line per problem when they cannot be.</summary>
    public static ClusterTls? Load(ClusterTlsSettings tls, List<string> errors, List<string> warnings)
    {
        if (tls.Certificate is not { } path)
            return null;
        var certificate = AdminAccess.LoadCertificate("Cluster:Tls:Certificate", "Cluster:Tls:Key", "", path, tls.Key, tls.Password, errors, warnings);
        if (certificate is null)
            return null;
        var trusted = new X509Certificate2Collection();
        if (tls.Authority is { } authority)
        {
            try
            {
                trusted = AdminClient.LoadTrusted(authority);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                errors.Add($"Cluster:Tls:Authority: cannot load {authority}: {ex.Message}");
                certificate.Dispose();
                return null;
            }
        }
        else
        {
            trusted.Add(X509CertificateLoader.LoadCertificate(certificate.RawData));
        }
        return new ClusterTls(certificate, trusted);
    }

    /// <summary>Akka.Remote's validator (both sides of every handshake): true for a peer of this fleet.</summary>
    public bool Accepts(X509Certificate2? peer, X509Chain? chain, string remote, SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (peer is not null && Trusts(peer, chain))
            return true;
        log.Warning("cluster TLS: refused {0}: {1}", remote, peer is null ? "no certificate" : $"{peer.Subject} is not signed by the fleet's authority ({errors})");
        return false;
    }

    private bool Trusts(X509Certificate2 peer, X509Chain? chain) =>
        AdminClient.IsOneOf(_trusted, peer) || AdminClient.ChainsTo(_trusted, peer, chain);

    public void Dispose()
    {
        Certificate.Dispose();
        foreach (var t in _trusted)
            t.Dispose();
    }
}
