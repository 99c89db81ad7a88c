using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>The daemon as a separate process on a sim root: the SIMXEN launch contract and the admin endpoint.</summary>
public sealed class DaemonProcessTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task With_a_sim_root_it_prints_ADMIN_URL_and_READY_writes_admin_url_and_stops_on_SIGTERM()
    {
        using var root = new SimTestRoot();
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path);
        var adminLine = await daemon.WaitForLineAsync("ADMIN_URL=", Start);
        await daemon.WaitForLineAsync("READY", Start);
        var url = adminLine["ADMIN_URL=".Length..];
        Assert.Equal(url, (await File.ReadAllTextAsync(Path.Combine(root.Path, "dom0", "admin-url"))).Trim());
        Assert.True(File.Exists(Path.Combine(root.Path, "xenstored.sock")), "the daemon serves xenstore when nobody does");
        Assert.DoesNotContain("SIMXEN_ROOT=", daemon.Stdout, StringComparison.Ordinal);

        daemon.Signal(15);
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(Directory.Exists(root.Path), "a --sim-root is left as it is");
    }

    [Fact]
    public async Task With_xenstore_given_it_uses_that_server_and_links_ROOT_xenstored_sock_to_it()
    {
        using var root = new SimTestRoot();
        using var other = new SimTestRoot();
        await using var xenstored = DaemonProcess.Start("xenstored", "--sim-root", other.Path);
        await xenstored.WaitForLineAsync("READY", Start);
        var socket = Path.Combine(other.Path, "xenstored.sock");
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path, "--xenstore", socket);
        await daemon.WaitForLineAsync("READY", Start);
        var link = new FileInfo(Path.Combine(root.Path, "xenstored.sock"));
        Assert.Equal(socket, link.LinkTarget);
    }

    [Fact]
    public async Task The_admin_endpoint_serves_status_metrics_and_healthz_on_loopback_only()
    {
        using var root = new SimTestRoot();
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path);
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("READY", Start);
        var uri = new Uri(url);
        Assert.Equal("127.0.0.1", uri.Host);

        using var http = new HttpClient { BaseAddress = uri };
        Assert.Equal("ok", (await http.GetStringAsync("/healthz")).Trim());
        using var status = JsonDocument.Parse(await http.GetStringAsync("/status"));
        Assert.Equal(0, status.RootElement.GetProperty("backendDomId").GetInt32());
        Assert.Equal(JsonValueKind.Array, status.RootElement.GetProperty("vifs").ValueKind);
        Assert.Equal(0, status.RootElement.GetProperty("uplinks").GetArrayLength());
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("# TYPE xnb_vifs gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("xnb_vifs 0", metrics, StringComparison.Ordinal);

        foreach (var address in NonLoopbackAddresses())
        {
            using var client = new TcpClient(address.AddressFamily);
            var ex = await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync(address, uri.Port));
            Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
        }
    }

    private static IEnumerable<System.Net.IPAddress> NonLoopbackAddresses()
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
                continue;
            foreach (var a in nic.GetIPProperties().UnicastAddresses)
                if (a.Address.AddressFamily == AddressFamily.InterNetwork)
                    yield return a.Address;
        }
    }
}
