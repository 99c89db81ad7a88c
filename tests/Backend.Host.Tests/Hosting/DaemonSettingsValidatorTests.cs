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
    [InlineData(-1, true)]
    [InlineData(0, false)]          // Linux's 0: never stalls
    [InlineData(60_000, false)]     // Linux's default
    [InlineData(3_600_000, false)]
    [InlineData(3_600_001, true)]
    public void RxStallTimeoutMs_is_0_for_never_or_at_most_an_hour(int ms, bool refused)
    {
        var errors = DaemonSettingsValidator.Validate(new DaemonSettings { RxStallTimeoutMs = ms });
        Assert.Equal(refused, errors.Any(e => e.StartsWith("RxStallTimeoutMs:", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(0, true)]           // every frame would expire as it is queued
    [InlineData(1, false)]
    [InlineData(10_000, false)]     // Linux's default
    [InlineData(3_600_001, true)]
    public void RxDrainTimeoutMs_is_1_ms_to_an_hour(int ms, bool refused)
    {
        var errors = DaemonSettingsValidator.Validate(new DaemonSettings { RxDrainTimeoutMs = ms });
        Assert.Equal(refused, errors.Any(e => e.StartsWith("RxDrainTimeoutMs:", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(-1, true)]
    [InlineData(0, false)]          // one per lane
    [InlineData(1, false)]
    [InlineData(8, false)]          // Linux's cap here
    [InlineData(9, true)]
    public void MaxQueues_is_0_to_8(int queues, bool refused)
    {
        var errors = DaemonSettingsValidator.Validate(new DaemonSettings { MaxQueues = queues });
        Assert.Equal(refused, errors.Any(e => e.StartsWith("MaxQueues:", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(0, 2, 2)]
    [InlineData(0, 64, 8)]
    [InlineData(3, 64, 3)]
    [InlineData(4, 2, 4)]
    public void MaxQueues_0_is_one_per_lane_at_most_8(int setting, int lanes, int expected) =>
        Assert.Equal(expected, Backend.Actors.BackendOptions.DefaultMaxQueues(setting, lanes));

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
