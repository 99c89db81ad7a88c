using System.Text.RegularExpressions;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// Issue 17, part 2: the daemon speaks systemd's notify protocol, tested without systemd: the test binds
/// the NOTIFY_SOCKET datagram socket itself and reads what the daemon sends.
/// </summary>
public sealed partial class SystemdNotifyTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Under_a_notify_socket_it_sends_READY_then_watchdog_pings_then_STOPPING_and_nothing_after()
    {
        using var root = new SimTestRoot();
        using var notify = new NotifySocket();
        var environment = new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            // WatchdogSec=0.4 s: a ping every 0.2 s.
            ["WATCHDOG_USEC"] = "400000",
        };
        await using var daemon = DaemonProcess.Start(environment, "--sim-root", root.Path);
        var received = new List<string>();
        var first = await notify.ReceiveAsync(Start);
        Assert.True(first is not null, $"no notification within {Start}.\nstderr:\n{daemon.Stderr}");
        received.Add(first!);
        // READY=1 comes when the daemon prints READY: the xenstore watch is set.
        await daemon.WaitForLineAsync("READY", TimeSpan.FromSeconds(10));
        while (received.Count(m => m == "WATCHDOG=1") < 5)
            received.Add(await notify.ReceiveAsync(TimeSpan.FromSeconds(20)) ?? throw new TimeoutException($"pings stopped after {string.Join(", ", received)}"));

        daemon.Signal(15);
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        received.AddRange(notify.Drain());

        var sequence = string.Join(' ', received);
        Assert.Matches(ExpectedOrder(), sequence);
    }

    [Fact]
    public async Task Without_WATCHDOG_USEC_it_sends_READY_and_STOPPING_only()
    {
        using var root = new SimTestRoot();
        using var notify = new NotifySocket();
        await using var daemon = DaemonProcess.Start(new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path }, "--sim-root", root.Path);
        Assert.Equal("READY=1", await notify.ReceiveAsync(Start));
        daemon.Signal(15);
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(["STOPPING=1"], notify.Drain());
    }

    [GeneratedRegex("^READY=1( WATCHDOG=1){5,} STOPPING=1$")]
    private static partial Regex ExpectedOrder();
}
