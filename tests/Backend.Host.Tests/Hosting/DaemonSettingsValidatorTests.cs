using Backend.Host.Hosting;

namespace Backend.Host.Tests.Hosting;

public sealed class DaemonSettingsValidatorTests
{
    [Theory]
    [InlineData(65535, true)]
    [InlineData(65536, false)]
    [InlineData(524288, false)]
    [InlineData((1 << 30) + 1, true)]
    public void RxQueueBytes_holds_at_least_one_largest_frame(int bytes, bool refused)
    {
        var errors = DaemonSettingsValidator.Validate(new DaemonSettings { RxQueueBytes = bytes });
        Assert.Equal(refused, errors.Any(e => e.StartsWith("RxQueueBytes:", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(0, false)]
    [InlineData(32751, false)]
    [InlineData(32752, true)]
    [InlineData(-1, true)]
    public void DomId_may_be_left_out_and_must_be_a_domain_when_given(int? domid, bool refused)
    {
        // Left out, the daemon reads it from xenstore on real Xen (a driver domain) and takes 0 under SIMXEN.
        var errors = DaemonSettingsValidator.Validate(new DaemonSettings { DomId = domid });
        Assert.Equal(refused, errors.Any(e => e.StartsWith("DomId (--domid):", StringComparison.Ordinal)));
    }
}
