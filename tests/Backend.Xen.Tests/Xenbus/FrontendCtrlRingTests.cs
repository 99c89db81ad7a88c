using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

/// <summary>
/// <c>ctrl-ring-ref</c> and <c>event-channel-ctrl</c> as Linux's connect_ctrl_ring reads them: no ring
/// reference (or one that is no number) is no ctrl ring; with one, a missing, malformed or zero port fails
/// the connection.
/// </summary>
public sealed class FrontendCtrlRingTests
{
    private const string Fe = "/local/domain/5/device/vif/0";

    [Fact]
    public void Both_keys_give_the_ring_and_its_port()
    {
        Assert.Equal(new FrontendCtrlRing(77, 12), FrontendCtrlRing.Parse(Fe, "77", "12"));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData(null, "12")]
    [InlineData("", "12")]
    [InlineData("ref", "12")]
    [InlineData("-1", null)]
    [InlineData("99999999999", "12")]
    public void Without_a_ring_reference_that_parses_there_is_no_ctrl_ring(string? ringRef, string? port)
    {
        Assert.Null(FrontendCtrlRing.Parse(Fe, ringRef, port));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("twelve")]
    [InlineData("131072")]
    [InlineData("-3")]
    public void A_ring_with_a_missing_or_bad_port_fails_the_connection(string? port)
    {
        var ex = Assert.Throws<VifConfigException>(() => FrontendCtrlRing.Parse(Fe, "77", port));
        Assert.Equal($"{Fe}/event-channel-ctrl", ex.Path);
    }
}
