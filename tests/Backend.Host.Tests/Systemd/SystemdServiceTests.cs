using Backend.Host.Systemd;

namespace Backend.Host.Tests.Systemd;

public sealed class SystemdServiceTests
{
    private static TimeSpan? Interval(string? usec, string? pid, int self = 4242) =>
        SystemdService.WatchdogIntervalFrom(name => name switch
        {
            "WATCHDOG_USEC" => usec,
            "WATCHDOG_PID" => pid,
            _ => null,
        }, self);

    [Fact]
    public void The_watchdog_is_pinged_at_half_of_WATCHDOG_USEC()
    {
        Assert.Equal(TimeSpan.FromSeconds(15), Interval("30000000", null));
        Assert.Equal(TimeSpan.FromSeconds(15), Interval("30000000", "4242"));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("0", null)]
    [InlineData("-5", null)]
    [InlineData("thirty", null)]
    [InlineData("30000000", "1")]
    public void No_watchdog_without_a_positive_WATCHDOG_USEC_meant_for_this_process(string? usec, string? pid)
    {
        Assert.Null(Interval(usec, pid));
    }

    [SkippableFact]
    public void Without_NOTIFY_SOCKET_there_is_no_watchdog_whatever_WATCHDOG_USEC_says()
    {
        var disabled = new SystemdService(new Microsoft.Extensions.Hosting.Systemd.SystemdNotifier(), TimeSpan.FromSeconds(1));
        Skip.If(disabled.Notifier.IsEnabled, "this test process runs under a NOTIFY_SOCKET");
        Assert.Null(disabled.WatchdogInterval);
    }
}
