using System.Net;
using Backend.Host.Tests.Support;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Tests.Uplink;

/// <summary>The daemon process with <c>--uplink</c> and <c>--switch</c>: the values it refuses, and a ping through the uplink.</summary>
public sealed class DaemonUplinkTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    private static async Task<(int Code, string Stderr)> Run(params string[] args)
    {
        await using var daemon = DaemonProcess.Start(args);
        var code = await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30));
        return (code, daemon.Stderr);
    }

    [Fact]
    public async Task Bad_uplink_and_switch_values_get_one_line_each_naming_the_setting()
    {
        var (code, stderr) = await Run("--uplink", "eth0", "--uplink", "tap:up0,mtu=9000", "--switch", "hub");
        Assert.Equal(2, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("Uplink (--uplink): 'eth0' is not tap:NAME[@BRIDGE][,linux-bridge=BR]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Uplink (--uplink): 'tap:up0,mtu=9000'", StringComparison.Ordinal) && l.Contains("unknown option 'mtu=9000'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Switch (--switch): 'hub'", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_uplink_with_the_tap_switch_is_refused()
    {
        var (code, stderr) = await Run("--switch", "tap", "--uplink", "tap:up0");
        Assert.Equal(2, code);
        Assert.Contains("--switch inproc", stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task An_uplink_whose_TAP_cannot_be_made_stops_the_start_with_one_line()
    {
        HostNetworkLab.RequirePrerequisites();
        using var root = new SimTestRoot();
        // "lo" exists and is no TAP: TUNSETIFF refuses it, and nothing about lo changes.
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path, "--uplink", "tap:lo");
        Assert.Equal(1, await daemon.WaitForExitAsync(Start));
        Assert.Contains("--uplink tap:lo@xenbr0: cannot set up the TAP", daemon.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", daemon.Stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Ping_from_a_namespace_reaches_a_simulated_guest_through_the_daemons_uplink()
    {
        HostNetworkLab.RequirePrerequisites();
        var tapName = HostNetworkLab.RandomName("xnbu");
        using var root = new SimTestRoot();
        using var lab = HostNetworkLab.Create();
        try
        {
            await using var daemon = DaemonProcess.Start("--sim-root", root.Path, "--uplink", $"tap:{tapName}@lan");
            var adminUrl = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
            await daemon.WaitForLineAsync("READY", Start);
            Assert.Equal("xnb:uplink lan", File.ReadAllText($"/sys/class/net/{tapName}/ifalias").Trim());

            const ushort domid = 3021;
            await using var xs = await XenStoreClient.ConnectAsync(Path.Combine(root.Path, "xenstored.sock"));
            var toolstack = new SimToolstack(xs);
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = domid, Handle = 0, Mac = "00:16:3e:0b:cd:01", Bridge = "lan" });
            await using var guest = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = new SimRoot(root.Path), DomId = domid }, xs);
            var responder = new SimIpResponder(guest, IPAddress.Parse("10.78.0.2"));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await guest.WaitForConnectedAsync(cts.Token);
            responder.Announce();

            lab.MoveInAndAddress(tapName, "10.78.0.1/24");
            var (ok, output) = await lab.PingAsync("10.78.0.2", 3, TimeSpan.FromSeconds(10));
            Assert.True(ok, $"ping through the daemon's uplink failed:\n{output}\nguest answered ARP {responder.ArpAnswered}, echo {responder.EchoAnswered}\ndaemon stderr:\n{daemon.Stderr}");

            // The uplink and what crossed its TAP are in /status: the pings came in, the answers went out.
            using (var http = new HttpClient { BaseAddress = new Uri(adminUrl) })
            using (var status = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/status")))
            {
                var uplink = Assert.Single(status.RootElement.GetProperty("uplinks").EnumerateArray());
                Assert.Equal("lan", uplink.GetProperty("bridge").GetString());
                var tapCounters = uplink.GetProperty("tap");
                Assert.Equal(tapName, tapCounters.GetProperty("device").GetString());
                Assert.True(tapCounters.GetProperty("fromHost").GetInt64() >= 1, status.RootElement.ToString());
                Assert.True(tapCounters.GetProperty("toHost").GetInt64() >= 1, status.RootElement.ToString());
                // And in /metrics, under the uplink's device and bridge.
                var metrics = await http.GetStringAsync("/metrics");
                Assert.Contains($"xnb_uplink_from_host_total{{uplink=\"{tapName}\",bridge=\"lan\"}} ", metrics, StringComparison.Ordinal);
            }

            await guest.CloseAsync(cts.Token);
            daemon.Signal(15);
            Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20)));
            Assert.True(lab.HasDevice(tapName), "the uplink's TAP is persistent: it outlives the daemon");
        }
        finally
        {
            // The TAP is persistent: delete it wherever it is (the namespace takes it along when it goes).
            TapDevice.Delete(tapName);
        }
    }
}
