using Backend.Actors.HostNetwork;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Tests.Uplink;

/// <summary>The alias that tells a vif's TAP as ours, and for which backend domain and vif.</summary>
public sealed class VifTapAliasTests
{
    [Fact]
    public void An_alias_names_the_backend_domain_and_the_vif_and_reads_back()
    {
        var alias = TapDevice.AliasPrefix + VifTap.Alias(0, new VifId(3031, 2)) + "\n";
        Assert.Equal("xnb:dom0 vif 3031.2\n", alias);
        Assert.True(VifTap.TryParseAlias(alias, out var backend, out var vif));
        Assert.Equal(0, backend);
        Assert.Equal(new VifId(3031, 2), vif);
    }

    [Fact]
    public void A_simulated_host_s_alias_names_its_sim_root_too_and_reads_back()
    {
        var alias = TapDevice.AliasPrefix + VifTap.Alias(0, new VifId(3031, 2), "/dev/shm/xnb-test 1") + "\n";
        Assert.Equal("xnb:dom0 vif 3031.2 on /dev/shm/xnb-test 1\n", alias);
        Assert.True(VifTap.TryParseAlias(alias, out var backend, out var vif, out var host));
        Assert.Equal(0, backend);
        Assert.Equal(new VifId(3031, 2), vif);
        Assert.Equal("/dev/shm/xnb-test 1", host);
        Assert.True(VifTap.TryParseAlias("xnb:dom0 vif 3031.2\n", out _, out _, out var none));
        Assert.Null(none);
        Assert.False(VifTap.TryParseAlias("xnb:dom0 vif 3031.2 on \n", out _, out _, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("xnb:uplink xenbr0")]       // an uplink's TAP: never swept as a vif's
    [InlineData("dom0 vif 1.0")]            // not ours: no prefix
    [InlineData("xnb:dom0 vif 1")]
    [InlineData("xnb:dom0 vif 70000.0")]    // no such domid
    [InlineData("xnb:dom-1 vif 1.0")]
    [InlineData("xnb:dom0 vif 1.0 extra")]
    public void Anything_else_is_not_a_vif_alias_of_ours(string? alias) =>
        Assert.False(VifTap.TryParseAlias(alias, out _, out _));
}
