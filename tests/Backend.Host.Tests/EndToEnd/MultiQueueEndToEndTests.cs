using System.Buffers.Binary;
using System.Text.Json;
using Backend.Host.Tests.Support;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// The daemon run as SIMXEN's outside launcher runs it, with <c>XNB_MAXQUEUES=4</c>: netfronts that ask
/// for 2 and 4 queues exchange many flows with each other and with a one-queue netfront, every flow intact
/// and in order, every queue carrying traffic in <c>/status</c> and <c>/metrics</c>; a frontend asking for
/// more queues than published is refused with a xenbus error, the others unaffected.
/// </summary>
public sealed class MultiQueueEndToEndTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);
    private const int Flows = 16;
    private const int FramesPerFlow = 32;

    private static byte[] Mac(ushort domid) => [0x00, 0x16, 0x3e, 0x00, (byte)(domid >> 8), (byte)domid];

    private static byte[] FlowFrame(ushort from, ushort to, int flow, int seq)
    {
        var udp = new byte[8 + 8 + 100];
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)(30000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), 5001);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        BinaryPrimitives.WriteInt32BigEndian(udp.AsSpan(8), flow);
        BinaryPrimitives.WriteInt32BigEndian(udp.AsSpan(12), seq);
        var ip = new byte[20 + udp.Length];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(12), 0x0A000000u | from);
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(16), 0x0A000000u | to);
        udp.CopyTo(ip, 20);
        return Packets.Ethernet(Mac(to), Mac(from), 0x0800, ip);
    }

    /// <summary>Every flow, flow f on TX queue f mod the sender's queues, within SIMXEN's zero-loss window.</summary>
    private static async Task SendFlowsAsync(SimNetfront from, SimFlowCounter to, ushort fromId, ushort toId, CancellationToken ct)
    {
        var start = to.Received;
        for (var seq = 0; seq < FramesPerFlow; seq++)
        {
            while (seq * Flows - (to.Received - start) > 256 - Flows)
                await Task.Delay(5, ct);
            for (var flow = 0; flow < Flows; flow++)
                await from.SendAsync(flow % from.QueueCount, FlowFrame(fromId, toId, flow, seq), default, ct);
        }
        while (to.Received - start < Flows * FramesPerFlow)
            await Task.Delay(10, ct);
    }

    [Fact]
    public async Task Guests_with_2_4_and_1_queues_exchange_many_flows_intact_and_in_order_on_every_queue_and_a_bad_count_is_refused()
    {
        using var root = new SimTestRoot();
        await using var daemon = DaemonProcess.Start(new Dictionary<string, string> { ["XNB_MAXQUEUES"] = "4" }, "--sim-root", root.Path);
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("READY", Start);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        var socket = Path.Combine(root.Path, "xenstored.sock");
        await using var xs = await XenStoreClient.ConnectAsync(socket);
        var toolstack = new SimToolstack(xs);
        var simRoot = new SimRoot(root.Path);
        var guests = new (ushort Id, int Queues)[] { (71, 2), (72, 4), (73, 1) };
        var fronts = new List<(SimNetfront Front, SimFlowCounter Counter, ushort Id)>();
        var clients = new List<XenStoreClient>();
        try
        {
            foreach (var (id, queues) in guests)
            {
                await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = id, Handle = 0, Mac = string.Join(':', Mac(id).Select(b => b.ToString("x2"))) });
                var client = await XenStoreClient.ConnectAsync(socket);
                clients.Add(client);
                var counter = new SimFlowCounter(0x0A000000u | id, Flows);
                var front = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = simRoot, DomId = id, Queues = queues }, client, counter);
                fronts.Add((front, counter, id));
            }
            foreach (var (front, _, id) in fronts)
            {
                await front.WaitForConnectedAsync(cts.Token);
                Assert.Equal(guests.Single(g => g.Id == id).Queues, front.QueueCount);
                // A broadcast, so that the bridge learns where each guest is.
                await front.SendAsync(Packets.Ethernet([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Mac(id), 0x88B5, new byte[46]), default, cts.Token);
            }
            Assert.Equal("4", await xs.ReadAsync("/local/domain/0/backend/vif/71/0/multi-queue-max-queues"));

            // A frontend asking for more than the maximum: a xenbus error, the others go on.
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 74, Handle = 0, Mac = "00:16:3e:00:00:4a" });
            var fe = SimToolstack.FrontendPath(74, 0);
            await xs.WriteAsync($"{fe}/multi-queue-num-queues", "5");
            await xs.WriteAsync($"{fe}/request-rx-copy", "1");
            await xs.WriteAsync($"{fe}/state", "4");

            // Every pair, both ways.
            foreach (var a in fronts)
            {
                foreach (var b in fronts.Where(b => b.Id != a.Id))
                    await SendFlowsAsync(a.Front, b.Counter, a.Id, b.Id, cts.Token);
            }
            Assert.True(fronts.All(f => f.Counter.OutOfOrder == 0 && f.Counter.Received == 2 * Flows * FramesPerFlow),
                string.Join("; ", fronts.Select(f => $"guest {f.Id}: {f.Counter.Received} received, {f.Counter.OutOfOrder} out of order")));
            foreach (var (front, _, id) in fronts)
            {
                for (var q = 0; q < front.QueueCount; q++)
                {
                    var (sent, received) = front.QueueCounters(q);
                    Assert.True(sent > 0 && received > 0, $"guest {id} queue {q}: sent {sent}, received {received}");
                }
            }

            using var status = JsonDocument.Parse(await http.GetStringAsync("/status", cts.Token));
            var vifs = status.RootElement.GetProperty("vifs").EnumerateArray().ToDictionary(v => v.GetProperty("domId").GetInt32());
            var four = vifs[72].GetProperty("queues").EnumerateArray().ToList();
            Assert.Equal(4, four.Count);
            Assert.All(four, q => Assert.True(q.GetProperty("rxPackets").GetInt64() > 0 && q.GetProperty("txPackets").GetInt64() > 0, q.ToString()));
            Assert.Equal(vifs[72].GetProperty("counters").GetProperty("rxPackets").GetInt64(), four.Sum(q => q.GetProperty("rxPackets").GetInt64()));
            Assert.True(!vifs[73].TryGetProperty("queues", out var none) || none.ValueKind == JsonValueKind.Null);
            Assert.Equal("Closing", vifs[74].GetProperty("state").GetString());
            Assert.Contains("multi-queue-num-queues", await xs.ReadAsync("/local/domain/0/error/backend/vif/74/0/error") ?? "", StringComparison.Ordinal);

            var metrics = PrometheusText.Parse(await http.GetStringAsync("/metrics", cts.Token)).Samples;
            Assert.Equal(4, metrics.Count(s => s.Name == "xnb_vif_queue_rx_packets_total" && s.Labels["vif"] == "vif72.0" && s.Value > 0));
            Assert.DoesNotContain(metrics, s => s.Name.StartsWith("xnb_vif_queue_", StringComparison.Ordinal) && s.Labels["vif"] == "vif73.0");
        }
        finally
        {
            foreach (var (front, _, _) in fronts)
                await front.DisposeAsync();
            foreach (var client in clients)
                await client.DisposeAsync();
        }
    }
}
