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
}
