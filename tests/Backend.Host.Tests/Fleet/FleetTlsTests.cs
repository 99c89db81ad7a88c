using System.Runtime.Versioning;
using Backend.Host.Hosting;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Fleet;

/// <summary>
/// Remoting over mutual TLS (<c>Cluster:Tls</c>): nodes whose certificates the fleet's CA signed form a
/// fleet; a node with another certificate (self-signed, same subject) is refused and never becomes a
/// member, although it trusts the fleet's CA itself. Certificates made with openssl by the test.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class FleetTlsTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Only_nodes_whose_certificate_the_fleets_authority_signed_can_join()
    {
        using var certificates = await TestCertificates.CreateAsync();
        await certificates.AddFleetCertificatesAsync();
        var ports = new[] { FleetNode.FreePort(), FleetNode.FreePort(), FleetNode.FreePort() };
        var seeds = new[] { FleetNode.AddressOf(ports[0], tls: true) };
        Dictionary<string, string> Tls(string certificate) => new()
        {
            ["XNB_CLUSTER__TLS__CERTIFICATE"] = certificate,
            ["XNB_CLUSTER__TLS__PASSWORD"] = TestCertificates.FleetPassword,
            ["XNB_CLUSTER__TLS__AUTHORITY"] = certificates.CaCertificate,
        };
        await using var first = await FleetNode.CreateAsync(ports[0], seeds, Tls(certificates.FleetPkcs12));
        await using var second = await FleetNode.CreateAsync(ports[1], seeds, Tls(certificates.FleetPkcs12));
        await using var rogue = await FleetNode.CreateAsync(ports[2], seeds, Tls(certificates.RoguePkcs12));
        await Task.WhenAll(first.StartAsync(Start), second.StartAsync(Start), rogue.StartAsync(Start));

        foreach (var node in new[] { first, second })
            await node.WaitForFleetAsync(f => f.Members.Count(m => m is { Status: "Up", Reachable: true }) == 2, TimeSpan.FromSeconds(30), "seeing both fleet nodes Up");

        // The rogue keeps trying (its seed answers, then refuses it); give it the time a join takes here.
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!first.Daemon!.Stderr.Contains("cluster TLS: refused", StringComparison.Ordinal))
            await Task.Delay(200, wait.Token);
        await Task.Delay(TimeSpan.FromSeconds(5));
        foreach (var node in new[] { first, second })
        {
            var fleet = await node.FleetAsync(CancellationToken.None);
            Assert.DoesNotContain(fleet.Members, m => m.Address == rogue.Address);
            Assert.Equal(2, fleet.Members.Count);
        }
        var alone = await rogue.FleetAsync(CancellationToken.None);
        Assert.DoesNotContain(alone.Members, m => m.Address == first.Address || m.Address == second.Address);
    }

    [Fact]
    public async Task Without_an_authority_only_the_same_certificate_is_accepted()
    {
        using var certificates = await TestCertificates.CreateAsync();
        await certificates.AddFleetCertificatesAsync();
        var errors = new List<string>();
        var warnings = new List<string>();
        using var tls = Backend.Host.Fleet.ClusterTls.Load(
            new ClusterTlsSettings { Certificate = certificates.FleetPkcs12, Password = TestCertificates.FleetPassword }, errors, warnings);
        Assert.Empty(errors);
        using var same = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(certificates.FleetPkcs12, TestCertificates.FleetPassword);
        using var other = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(certificates.RoguePkcs12, TestCertificates.FleetPassword);
        using var signedByCa = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(certificates.ServerCertificate);
        var log = Akka.Event.NoLogger.Instance;
        Assert.True(tls!.Accepts(same, null, "peer", System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, log));
        Assert.False(tls.Accepts(other, null, "peer", System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, log));
        // Signed by the same CA, but the CA was not named as the authority: not trusted.
        Assert.False(tls.Accepts(signedByCa, null, "peer", System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, log));
        Assert.False(tls.Accepts(null, null, "peer", System.Net.Security.SslPolicyErrors.RemoteCertificateNotAvailable, log));
    }

    [Fact]
    public void A_wrong_password_is_a_settings_error_naming_the_setting()
    {
        var errors = new List<string>();
        var dir = Path.Combine(Path.GetTempPath(), $"xnb-fleet-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var bogus = Path.Combine(dir, "fleet.p12");
            File.WriteAllBytes(bogus, [1, 2, 3, 4]);
            var tls = Backend.Host.Fleet.ClusterTls.Load(new ClusterTlsSettings { Certificate = bogus, Password = "x" }, errors, []);
            Assert.Null(tls);
            Assert.StartsWith($"Cluster:Tls:Certificate: cannot load {bogus}:", Assert.Single(errors), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
