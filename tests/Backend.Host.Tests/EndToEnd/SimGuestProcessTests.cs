using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>Guests as their own processes (the <c>sim-guest</c> subcommand) ping each other through the daemon's bridge.</summary>
public sealed class SimGuestProcessTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Two_guest_processes_ping_each_other_through_the_daemon_process()
    {
        using var root = new SimTestRoot();
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path);
        await daemon.WaitForLineAsync("READY", Start);
        await using var echo = DaemonProcess.Start("sim-guest", "--sim-root", root.Path, "--domid", "5", "--ip", "10.0.0.5",
            "--mac", "00:16:3e:00:00:05", "--create-vif");
        await echo.WaitForLineAsync("CONNECTED", Start);
        await using var ping = DaemonProcess.Start("sim-guest", "--sim-root", root.Path, "--domid", "6", "--ip", "10.0.0.6",
            "--mac", "00:16:3e:00:00:06", "--create-vif", "--mode", "ping", "--peer-ip", "10.0.0.5", "--count", "3");
        var result = await ping.WaitForLineAsync("RESULT", Start);
        Assert.Equal(0, await ping.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("pings-answered=3", result, StringComparison.Ordinal);
        Assert.Contains("pings-lost=0", result, StringComparison.Ordinal);
    }
}
