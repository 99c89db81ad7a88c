using Backend.Host.Hosting;

namespace Backend.Host.Tests.Fleet;

public sealed class ClusterSettingsTests
{
    [Fact]
    public void The_cluster_is_off_by_default_and_listens_on_loopback_when_turned_on()
    {
        var settings = new DaemonSettings();
        Assert.False(settings.Cluster.Enabled);
        Assert.Equal("127.0.0.1", settings.Cluster.Hostname);
        Assert.Empty(DaemonSettingsValidator.Validate(settings));
    }

    [Theory]
    [InlineData("akka.tcp://xnb@127.0.0.1:4053", true)]
    [InlineData("akka.tcp://xnb@dom0-a.example.org:4053", true)]
    [InlineData("akka.tcp://xnb@[::1]:4053", true)]
    [InlineData("akka.tcp://other@127.0.0.1:4053", false)]
    [InlineData("akka.tcp://xnb@127.0.0.1", false)]
    [InlineData("akka://xnb@127.0.0.1:4053", false)]
    [InlineData("akka.tcp://xnb@127.0.0.1:4053/user", false)]
    [InlineData("akka.tcp://xnb@127.0.0.1:99999", false)]
    [InlineData("127.0.0.1:4053", false)]
    public void A_seed_must_name_the_xnb_system_and_its_port(string seed, bool accepted)
    {
        var settings = new DaemonSettings { Cluster = { Enabled = true, Seeds = [seed] } };
        var errors = DaemonSettingsValidator.Validate(settings);
        Assert.Equal(accepted, errors.Count == 0);
        if (!accepted)
            Assert.Equal($"Cluster:Seeds: '{seed}' is not akka.tcp://xnb@HOST:PORT", Assert.Single(errors));
    }

    [Theory]
    [InlineData("akka.ssl.tcp://xnb@127.0.0.1:4053", true)]
    [InlineData("akka.tcp://xnb@127.0.0.1:4053", false)]
    public void With_tls_the_seeds_name_akkas_tls_transport(string seed, bool accepted)
    {
        var settings = new DaemonSettings { Cluster = { Enabled = true, Seeds = [seed], Tls = { Certificate = "/etc/xnb/fleet.p12" } } };
        var errors = DaemonSettingsValidator.Validate(settings);
        Assert.Equal(accepted, errors.Count == 0);
        if (!accepted)
            Assert.Equal($"Cluster:Seeds: '{seed}' is not akka.ssl.tcp://xnb@HOST:PORT (Cluster:Tls is set)", Assert.Single(errors));
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("*")]
    public void A_wildcard_hostname_is_refused_because_it_is_the_nodes_name(string hostname)
    {
        var settings = new DaemonSettings { Cluster = { Enabled = true, Hostname = hostname, Seeds = ["akka.tcp://xnb@127.0.0.1:4053"] } };
        var error = Assert.Single(DaemonSettingsValidator.Validate(settings));
        Assert.StartsWith($"Cluster:Hostname: '{hostname}' is a wildcard", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_bad_cluster_value_is_one_line_naming_its_setting()
    {
        var settings = new DaemonSettings
        {
            Cluster = { Enabled = true, Hostname = "", Port = 0, StableAfterSeconds = 0, Tls = { Password = "x", Authority = "" } },
        };
        var errors = DaemonSettingsValidator.Validate(settings);
        Assert.Equal(
        [
            "Cluster:Hostname: empty; give the address the other nodes reach this one at",
            "Cluster:Port: 0 is not 1 to 65535",
            "Cluster:Seeds: none; list at least one (the first node of a fleet lists its own address)",
            "Cluster:StableAfterSeconds: 0 is not 1 to 600",
            "Cluster:Tls:Certificate: Key, Password or Authority given without a Certificate",
            "Cluster:Tls:Authority: empty path",
        ], errors);
    }

    [Fact]
    public void Cluster_settings_come_from_the_environment_like_every_other_setting()
    {
        var settings = SettingsLoader.Load(null, new Dictionary<string, string?>
        {
            ["XNB_CLUSTER__ENABLED"] = "true",
            ["XNB_CLUSTER__PORT"] = "4100",
            ["XNB_CLUSTER__SEEDS__0"] = "akka.tcp://xnb@10.0.0.1:4100",
            ["XNB_CLUSTER__SEEDS__1"] = "akka.tcp://xnb@10.0.0.2:4100",
            ["XNB_CLUSTER__TLS__CERTIFICATE"] = "/etc/xnb/fleet.p12",
        });
        Assert.True(settings.Cluster.Enabled);
        Assert.Equal(4100, settings.Cluster.Port);
        Assert.Equal(["akka.tcp://xnb@10.0.0.1:4100", "akka.tcp://xnb@10.0.0.2:4100"], settings.Cluster.Seeds);
        Assert.Equal("/etc/xnb/fleet.p12", settings.Cluster.Tls.Certificate);
    }
}
