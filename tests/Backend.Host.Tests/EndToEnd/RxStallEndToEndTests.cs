using System.Text.Json;
using Backend.Host.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// The daemon run as SIMXEN's outside launcher runs it, with Linux's RX timeouts set short through its
/// settings (<c>XNB_RXSTALLTIMEOUTMS</c>, <c>XNB_RXDRAINTIMEOUTMS</c>): a guest that stops posting RX
/// buffers shows carrier off and a stall in <c>/status</c> and <c>/metrics</c>, what waited for it is
/// dropped, and it is carrier on again once it posts.
/// </summary>
public sealed class RxStallEndToEndTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);
    private const ushort Sender = 41;
    private const ushort Receiver = 42;

    [Fact]
    public async Task A_guest_that_posts_no_rx_buffers_is_carrier_off_and_stalled_in_status_and_metrics_until_it_posts()
    {
        using var root = new SimTestRoot();
        var settings = new Dictionary<string, string> { ["XNB_RXSTALLTIMEOUTMS"] = "500", ["XNB_RXDRAINTIMEOUTMS"] = "1000" };
        await using var daemon = DaemonProcess.Start(settings, "--sim-root", root.Path);
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("READY", Start);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));

        var socket = Path.Combine(root.Path, "xenstored.sock");
        await using var xs = await XenStoreClient.ConnectAsync(socket);
        var toolstack = new SimToolstack(xs);
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = Sender, Handle = 0, Mac = "00:16:3e:00:00:41" });
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = Receiver, Handle = 0, Mac = "00:16:3e:00:00:42" });
        var simRoot = new SimRoot(root.Path);
        await using var xs1 = await XenStoreClient.ConnectAsync(socket);
        await using var xs2 = await XenStoreClient.ConnectAsync(socket);
        await using var sender = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = simRoot, DomId = Sender }, xs1);
        // Posts no RX buffer until told.
        await using var receiver = await HostileFrontend.ConnectAsync(simRoot, xs2, Receiver, 0, cts.Token);
        await sender.WaitForConnectedAsync(cts.Token);
        await Until(async () => (await StatusJson.VifAsync(http, Receiver)).GetProperty("carrier").GetBoolean(), cts.Token);

        // Frames for it until it has stalled: broadcasts, flooded to every port whose carrier is on.
        var frame = Packets.Ethernet([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x00, 0x16, 0x3e, 0x00, 0x00, 0x41], 0x88B5, new byte[46]);
        using (var sending = CancellationTokenSource.CreateLinkedTokenSource(cts.Token))
        {
            var traffic = Task.Run(async () =>
            {
                while (!sending.IsCancellationRequested)
                {
                    await sender.SendAsync(frame, default, cts.Token);
                    await Task.Delay(20, CancellationToken.None);
                }
            }, CancellationToken.None);
            await Until(async () => (await StatusJson.VifAsync(http, Receiver)) is var v && v.GetProperty("rxStalled").GetBoolean() && !v.GetProperty("carrier").GetBoolean(), cts.Token);
            sending.Cancel();
            await traffic;
        }

        var stalled = await StatusJson.VifAsync(http, Receiver);
        Assert.Equal(1, stalled.GetProperty("counters").GetProperty("rxStalls").GetInt64());
        var metrics = await http.GetStringAsync("/metrics", cts.Token);
        var labels = $"{{vif=\"vif{Receiver}.0\",device=\"vif{Receiver}.0\",domid=\"{Receiver}\",handle=\"0\"}}";
        Assert.Contains($"xnb_vif_carrier{labels} 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"xnb_vif_rx_stalled{labels} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"xnb_vif_rx_stalls_total{labels} 1\n", metrics, StringComparison.Ordinal);

        // What waited for it is dropped after the drain timeout: no frame is left holding a buffer.
        await Until(async () =>
        {
            var v = await StatusJson.VifAsync(http, Receiver);
            return v.GetProperty("counters").GetProperty("rxExpired").GetInt64() > 0 && await BuffersOutAsync(http) == 0;
        }, cts.Token);
        Assert.Equal(0u, receiver.RxResponseProducer);

        // It posts: the carrier comes back, and frames reach it again.
        receiver.PostRxBuffers(4);
        // The connection clears the stall before it turns the carrier on: carrier on means both are seen.
        await Until(async () => (await StatusJson.VifAsync(http, Receiver)).GetProperty("carrier").GetBoolean(), cts.Token);
        Assert.False((await StatusJson.VifAsync(http, Receiver)).GetProperty("rxStalled").GetBoolean());
        await sender.SendAsync(frame, default, cts.Token);
        await Until(() => Task.FromResult(receiver.RxResponseProducer == 1), cts.Token);
        Assert.Contains($"xnb_vif_carrier{labels} 1\n", await http.GetStringAsync("/metrics", cts.Token), StringComparison.Ordinal);
    }

    /// <summary>Packet buffers out of the daemon's pool: every frame held anywhere holds one.</summary>
    private static async Task<long> BuffersOutAsync(HttpClient http) =>
        PrometheusText.Parse(await http.GetStringAsync("/metrics")).Samples.Single(s => s.Name == "xnb_packet_buffers_outstanding").Value;

    private static async Task Until(Func<Task<bool>> condition, CancellationToken cancellationToken)
    {
        while (!await condition())
            await Task.Delay(20, cancellationToken);
    }
}
