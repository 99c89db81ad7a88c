using System.Text.Json;
using Backend.Actors.Status;
using Backend.Host.Admin;
using Backend.Host.Metrics;
using Backend.Host.Tests.Support;
using Backend.Xen.Buffers;
using Backend.Xen.Xenbus;

namespace Backend.Host.Tests.Metrics;

/// <summary>
/// A multi-queue vif's per-queue figures in <c>/metrics</c> (a <c>queue</c> label on names of their own) and
/// <c>/status</c> (<c>queues</c>); a one-queue vif shows neither, its series and document as before.
/// </summary>
public sealed class QueueMetricsTests
{
    private static VifStatusRegistry Registry()
    {
        var registry = new VifStatusRegistry();
        registry.GetOrAdd(new VifId(3, 0)).TxPackets = 7;
        var multi = registry.GetOrAdd(new VifId(4, 0));
        multi.Queues = [new VifQueueStatus(0) { TxPackets = 11, RxPackets = 12, RxReqCons = 13 }, new VifQueueStatus(1) { TxPackets = 21, RxPackets = 22, RxReqCons = 23, RxStalled = true }];
        return registry;
    }

    [Fact]
    public void Each_queue_of_a_multi_queue_vif_is_a_series_with_a_queue_label()
    {
        using var buffers = new PacketBufferPool();
        var samples = PrometheusText.Parse(XnbMetricsTests.Exposition(Registry(), buffers, [])).Samples;
        var tx = samples.Where(s => s.Name == "xnb_vif_queue_tx_packets_total").ToList();
        Assert.Equal(2, tx.Count);
        Assert.All(tx, s => Assert.Equal("vif4.0", s.Labels["vif"]));
        Assert.Equal(11, tx.Single(s => s.Labels["queue"] == "0").Value);
        Assert.Equal(21, tx.Single(s => s.Labels["queue"] == "1").Value);
        Assert.Equal(1, samples.Single(s => s.Name == "xnb_vif_queue_rx_stalled" && s.Labels["queue"] == "1").Value);
        // The one-queue vif has no per-queue series, and its per-vif series carry no queue label.
        Assert.DoesNotContain(samples, s => s.Name.StartsWith("xnb_vif_queue_", StringComparison.Ordinal) && s.Labels["vif"] == "vif3.0");
        Assert.DoesNotContain(samples, s => s.Name == "xnb_vif_tx_packets_total" && s.Labels.ContainsKey("queue"));
    }

    [Fact]
    public void Status_lists_the_queues_of_a_multi_queue_vif_only()
    {
        using var status = JsonDocument.Parse(JsonSerializer.Serialize(StatusDocument.From("sim", 0, Registry(), []), AdminJson.Options));
        var vifs = status.RootElement.GetProperty("vifs").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!);
        var queues = vifs["vif4.0"].GetProperty("queues").EnumerateArray().ToList();
        Assert.Equal(2, queues.Count);
        Assert.Equal(1, queues[1].GetProperty("queue").GetInt32());
        Assert.Equal(22, queues[1].GetProperty("rxPackets").GetInt64());
        Assert.Equal(23u, queues[1].GetProperty("rings").GetProperty("rxReqCons").GetUInt32());
        Assert.True(queues[1].GetProperty("rxStalled").GetBoolean());
        Assert.True(!vifs["vif3.0"].TryGetProperty("queues", out var none) || none.ValueKind == JsonValueKind.Null);
    }
}
