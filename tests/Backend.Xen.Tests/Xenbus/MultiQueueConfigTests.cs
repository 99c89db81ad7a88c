using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.Tests.XenStore;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

/// <summary>
/// A multi-queue frontend's keys as Linux netback's connect() and connect_data_rings() read them: the
/// backend's <c>multi-queue-max-queues</c>, the frontend's <c>multi-queue-num-queues</c> and each
/// <c>queue-N/</c>, hostile values refused naming the key.
/// </summary>
public sealed class MultiQueueConfigTests : IAsyncLifetime
{
    private const ushort Guest = 6;
    private const string Be = "/local/domain/0/backend/vif/6/0";
    private const string Fe = "/local/domain/6/device/vif/0";

    private XenStoreTestServer _server = null!;
    private XenStoreClient _xs = null!;
    private VifBackend _backend = null!;

    public async Task InitializeAsync()
    {
        _server = await XenStoreTestServer.StartAsync();
        _xs = await _server.ConnectAsync();
        _backend = new VifBackend(_xs, new VifPaths(0, new VifId(Guest, 0)), maxQueues: 4);
        await new SimToolstack(_xs).CreateVifAsync(new SimVifSpec { GuestDomId = Guest, Handle = 0, Mac = "00:16:3e:00:00:06" });
    }

    public async Task DisposeAsync()
    {
        await _xs.DisposeAsync();
        await _server.DisposeAsync();
    }

    /// <summary>What xen-netfront writes for <paramref name="queues"/> queues; queue q's refs 10q+1, 10q+2, ports 10q+3 (and 10q+4 split).</summary>
    private async Task WriteFrontendAsync(int queues, Func<int, bool>? split = null)
    {
        await _xs.WriteAsync($"{Fe}/multi-queue-num-queues", queues.ToString(System.Globalization.CultureInfo.InvariantCulture));
        for (var q = 0; q < queues; q++)
        {
            var dir = $"{Fe}/queue-{q}";
            await _xs.WriteAsync($"{dir}/tx-ring-ref", $"{10 * q + 1}");
            await _xs.WriteAsync($"{dir}/rx-ring-ref", $"{10 * q + 2}");
            if (split?.Invoke(q) == true)
            {
                await _xs.WriteAsync($"{dir}/event-channel-tx", $"{10 * q + 3}");
                await _xs.WriteAsync($"{dir}/event-channel-rx", $"{10 * q + 4}");
            }
            else
            {
                await _xs.WriteAsync($"{dir}/event-channel", $"{10 * q + 3}");
            }
        }
        await _xs.WriteAsync($"{Fe}/request-rx-copy", "1");
        await _xs.WriteAsync($"{Fe}/feature-sg", "1");
    }

    [Fact]
    public async Task The_backend_publishes_its_maximum_with_the_features()
    {
        Assert.True(await _backend.SwitchStateAsync(XenbusState.InitWait, publishFeatures: true));
        Assert.Equal("4", await _xs.ReadAsync($"{Be}/multi-queue-max-queues"));
    }

    [Fact]
    public async Task Each_queue_is_read_from_its_own_directory_with_split_keys_where_written()
    {
        await WriteFrontendAsync(3, split: q => q == 1);
        var f = (await _backend.ReadConnectConfigAsync()).Frontend;
        Assert.Equal(3, f.Queues.Count);
        Assert.Equal(new QueueRings(1, 2, 3, 3, false), f.Queues[0]);
        Assert.Equal(new QueueRings(11, 12, 13, 14, true), f.Queues[1]);
        Assert.Equal(new QueueRings(21, 22, 23, 23, false), f.Queues[2]);
        // The flat fields are queue 0's; the flags come from the frontend's own directory.
        Assert.Equal((1u, 2u, 3u), (f.TxRingRef, f.RxRingRef, f.TxEventChannel));
        Assert.True(f.ScatterGather);
        Assert.Contains("queues=3", f.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Flat_keys_are_ignored_when_several_queues_are_asked_for()
    {
        await WriteFrontendAsync(2);
        await _xs.WriteAsync($"{Fe}/tx-ring-ref", "99");
        await _xs.WriteAsync($"{Fe}/event-channel", "98");
        var f = (await _backend.ReadConnectConfigAsync()).Frontend;
        Assert.Equal(1u, f.Queues[0].TxRingRef);
        Assert.Equal(3u, f.Queues[0].TxEventChannel);
    }

    [Fact]
    public async Task One_queue_asked_for_explicitly_uses_the_flat_keys()
    {
        // As Linux: with num_queues == 1 the keys are the frontend's own, not queue-0's.
        await _xs.WriteAsync($"{Fe}/multi-queue-num-queues", "1");
        await _xs.WriteAsync($"{Fe}/tx-ring-ref", "7");
        await _xs.WriteAsync($"{Fe}/rx-ring-ref", "8");
        await _xs.WriteAsync($"{Fe}/event-channel", "9");
        await _xs.WriteAsync($"{Fe}/request-rx-copy", "1");
        var f = (await _backend.ReadConnectConfigAsync()).Frontend;
        Assert.Equal([new QueueRings(7, 8, 9, 9, false)], f.Queues);
        Assert.Null(f.MoreQueues);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("5")]
    [InlineData("4294967295")]
    [InlineData("-1")]
    [InlineData("2 ")]
    public async Task A_queue_count_outside_one_to_the_maximum_is_refused(string count)
    {
        await WriteFrontendAsync(2);
        await _xs.WriteAsync($"{Fe}/multi-queue-num-queues", count);
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
        Assert.Equal($"{Fe}/multi-queue-num-queues", ex.Path);
    }

    [Theory]
    [InlineData("queue-1/tx-ring-ref")]
    [InlineData("queue-1/rx-ring-ref")]
    [InlineData("queue-1/event-channel")]
    public async Task A_missing_queue_key_is_refused_naming_it(string key)
    {
        await WriteFrontendAsync(2);
        await _xs.RemoveAsync($"{Fe}/{key}");
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
        Assert.Equal($"{Fe}/{key}", ex.Path);
    }

    [Fact]
    public async Task A_queue_directory_that_is_not_there_is_refused()
    {
        // Asks for 3, writes 2.
        await WriteFrontendAsync(2);
        await _xs.WriteAsync($"{Fe}/multi-queue-num-queues", "3");
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
        Assert.StartsWith($"{Fe}/queue-2/", ex.Path, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("queue-1/event-channel", "0")]
    [InlineData("queue-1/tx-ring-ref", "x")]
    [InlineData("queue-0/event-channel", "131072")]
    public async Task A_hostile_queue_key_is_refused_naming_it(string key, string value)
    {
        await WriteFrontendAsync(2);
        await _xs.WriteAsync($"{Fe}/{key}", value);
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
        Assert.Equal($"{Fe}/{key}", ex.Path);
    }
}
