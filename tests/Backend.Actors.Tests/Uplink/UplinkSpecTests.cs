using Backend.Actors.Uplink;

namespace Backend.Actors.Tests.Uplink;

public sealed class UplinkSpecTests
{
    [Theory]
    [InlineData("tap:up0", "up0", "xenbr0", null)]
    [InlineData("tap:up0@lan", "up0", "lan", null)]
    [InlineData("tap:up0@lan,linux-bridge=br0", "up0", "lan", "br0")]
    [InlineData("tap:up0,linux-bridge=br0", "up0", "xenbr0", "br0")]
    public void An_uplink_names_its_TAP_its_bridge_and_optionally_a_Linux_bridge(string text, string tap, string bridge, string? linuxBridge)
    {
        Assert.True(UplinkSpec.TryParse(text, out var spec, out var error), error);
        Assert.Equal(new UplinkSpec(tap, bridge, linuxBridge), spec);
    }

    [Theory]
    [InlineData("", "starts with 'tap:'")]
    [InlineData("eth0", "starts with 'tap:'")]
    [InlineData("tap:", "is empty")]
    [InlineData("tap:a-name-of-16-chars", "longer than 15")]
    [InlineData("tap:up/0", "character Linux refuses")]
    [InlineData("tap:up0@", "empty")]
    [InlineData("tap:up0,mtu=9000", "unknown option 'mtu=9000'")]
    [InlineData("tap:up0,linux-bridge=", "linux-bridge '' is empty")]
    public void A_bad_uplink_is_refused_with_the_reason(string text, string reason)
    {
        Assert.False(UplinkSpec.TryParse(text, out _, out var error));
        Assert.Contains(reason, error);
    }
}
