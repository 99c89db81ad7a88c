using System.Globalization;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.Tests.XenStore;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

/// <summary>
/// A vif's backend device over the embedded xenstore: the keys libxl and a netfront write, read and
/// checked (hostile values included), the MTU choice, and the transactions of xenbus_client.c.
/// </summary>
public sealed class VifBackendTests : IAsyncLifetime
{
    private const ushort Guest = 5;
    private const string Be = "/local/domain/0/backend/vif/5/0";
    private const string Fe = "/local/domain/5/device/vif/0";

    private XenStoreTestServer _server = null!;
    private XenStoreClient _xs = null!;
    private VifBackend _backend = null!;

    public async Task InitializeAsync()
    {
        _server = await XenStoreTestServer.StartAsync();
        _xs = await _server.ConnectAsync();
        _backend = new VifBackend(_xs, new VifPaths(0, new VifId(Guest, 0)));
    }

    public async Task DisposeAsync()
    {
        await _xs.DisposeAsync();
        await _server.DisposeAsync();
    }

    private Task CreateVifAsync(int mtu = SimVifSpec.DefaultMtu, SimVifRate? rate = null) =>
        new SimToolstack(_xs).CreateVifAsync(new SimVifSpec { GuestDomId = Guest, Handle = 0, Mac = "00:16:3e:00:00:05", Mtu = mtu, Rate = rate });

    /// <summary>The keys xen-netfront writes before it goes Connected.</summary>
    private async Task WriteFrontendKeysAsync(bool split = false)
    {
        await _xs.WriteAsync($"{Fe}/tx-ring-ref", "8");
        await _xs.WriteAsync($"{Fe}/rx-ring-ref", "9");
        if (split)
        {
            await _xs.WriteAsync($"{Fe}/event-channel-tx", "3");
            await _xs.WriteAsync($"{Fe}/event-channel-rx", "4");
        }
        else
        {
            await _xs.WriteAsync($"{Fe}/event-channel", "3");
        }
        await _xs.WriteAsync($"{Fe}/request-rx-copy", "1");
        await _xs.WriteAsync($"{Fe}/feature-rx-notify", "1");
        await _xs.WriteAsync($"{Fe}/feature-sg", "1");
        await _xs.WriteAsync($"{Fe}/feature-gso-tcpv4", "1");
    }

    [Fact]
    public async Task A_vif_as_libxl_and_netfront_write_it_is_read()
    {
        await CreateVifAsync(rate: new SimVifRate(1250000, 20000));
        await WriteFrontendKeysAsync();

        var config = await _backend.ReadConnectConfigAsync();

        Assert.Equal(Fe, config.Backend.FrontendPath);
        Assert.Equal(Fe, _backend.FrontendPath);
        Assert.Equal(Guest, config.Backend.FrontendId);
        Assert.Equal("00:16:3e:00:00:05", config.Backend.Mac.ToString());
        Assert.Equal(SimVifSpec.DefaultBridge, config.Backend.Bridge);
        Assert.Equal(new RateLimit(1250000, 20000), config.Backend.Rate);
        Assert.True(config.Backend.Online);
        var f = config.Frontend;
        Assert.Equal((8u, 9u, 3u, 3u, false), (f.TxRingRef, f.RxRingRef, f.TxEventChannel, f.RxEventChannel, f.SplitEventChannels));
        Assert.True(f.RxNotify && f.ScatterGather && f.GsoTcpV4 && f.Ipv4ChecksumOffload);
        Assert.False(f.GsoTcpV6 || f.Ipv6ChecksumOffload);
        Assert.Equal("sg,gso-tcpv4,csum,rx-notify", f.Describe());
        Assert.Equal(1500, config.Mtu);
    }

    [Fact]
    public async Task Split_event_channels_are_read_when_no_single_one_is_written()
    {
        await CreateVifAsync();
        await WriteFrontendKeysAsync(split: true);
        var f = (await _backend.ReadConnectConfigAsync()).Frontend;
        Assert.Equal((3u, 4u, true), (f.TxEventChannel, f.RxEventChannel, f.SplitEventChannels));
    }

    [Fact]
    public async Task Split_event_channels_are_preferred_when_both_styles_are_written()
    {
        // As Linux's connect_data_rings: the split keys whenever both are there.
        await CreateVifAsync();
        await WriteFrontendKeysAsync(split: true);
        await _xs.WriteAsync($"{Fe}/event-channel", "9");
        var f = (await _backend.ReadConnectConfigAsync()).Frontend;
        Assert.Equal((3u, 4u, true), (f.TxEventChannel, f.RxEventChannel, f.SplitEventChannels));
        Assert.Contains("split-event-channels", f.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_split_key_alone_falls_back_to_the_single_key_or_is_refused_naming_the_other()
    {
        await CreateVifAsync();
        await WriteFrontendKeysAsync();
        await _xs.WriteAsync($"{Fe}/event-channel-tx", "5");
        var f = (await _backend.ReadConnectConfigAsync()).Frontend;
        Assert.Equal((3u, 3u, false), (f.TxEventChannel, f.RxEventChannel, f.SplitEventChannels));

        await _xs.RemoveAsync($"{Fe}/event-channel");
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
        Assert.Equal($"{Fe}/event-channel-rx", ex.Path);
    }

    [Fact]
    public async Task A_malformed_split_key_is_refused_rather_than_ignored()
    {
        await CreateVifAsync();
        await WriteFrontendKeysAsync(split: true);
        await _xs.WriteAsync($"{Fe}/event-channel", "3");
        await _xs.WriteAsync($"{Fe}/event-channel-rx", "0");
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
        Assert.Equal($"{Fe}/event-channel-rx", ex.Path);
    }

    [Theory]
    [InlineData("0,1000")]
    [InlineData("1000")]
    [InlineData("lots")]
    public async Task A_malformed_rate_runs_the_vif_unlimited_instead_of_failing_it(string value)
    {
        // As Linux's xen_net_read_rate: "Traffic unlimited", and a warning (VifXenbus).
        await CreateVifAsync(rate: new SimVifRate(1250000, 20000));
        await _xs.WriteAsync($"{Be}/rate", value);
        await WriteFrontendKeysAsync();
        var config = (await _backend.ReadConnectConfigAsync()).Backend;
        Assert.Null(config.Rate);
        Assert.Equal(value, config.MalformedRate);
        Assert.Equal((null, value), await _backend.ReadRateAsync());
    }

    [Fact]
    public async Task The_rate_is_read_again_and_its_watch_fires_when_the_toolstack_rewrites_it()
    {
        await CreateVifAsync(rate: new SimVifRate(1250000, 20000));
        await _backend.ReadConfigAsync();
        var fired = System.Threading.Channels.Channel.CreateUnbounded<bool>();
        var watches = await _backend.WatchAsync(() => { }, () => { }, () => fired.Writer.TryWrite(true));
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await fired.Reader.ReadAsync(cts.Token); // the initial event
            await _xs.WriteAsync($"{Be}/rate", "2500000,20000");
            await fired.Reader.ReadAsync(cts.Token);
            Assert.Equal((new RateLimit(2500000, 20000), null), await _backend.ReadRateAsync());
            await _xs.RemoveAsync($"{Be}/rate");
            await fired.Reader.ReadAsync(cts.Token);
            Assert.Equal((null, null), await _backend.ReadRateAsync());
        }
        finally
        {
            foreach (var watch in watches)
                await watch.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_mtu_is_the_backends_else_the_frontends_else_1500()
    {
        await CreateVifAsync(mtu: 9000);
        await WriteFrontendKeysAsync();
        Assert.Equal(9000, (await _backend.ReadConnectConfigAsync()).Mtu);

        // The backend's wins: a frontend's garbage is not even looked at then.
        await _xs.WriteAsync($"{Fe}/mtu", "lots");
        Assert.Equal(9000, (await _backend.ReadConnectConfigAsync()).Mtu);

        await _xs.RemoveAsync($"{Be}/mtu");
        await _xs.WriteAsync($"{Fe}/mtu", "4000");
        Assert.Equal(4000, (await _backend.ReadConnectConfigAsync()).Mtu);

        await _xs.RemoveAsync($"{Fe}/mtu");
        Assert.Equal(1500, (await _backend.ReadConnectConfigAsync()).Mtu);

        await _xs.WriteAsync($"{Fe}/mtu", "65536");
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
        Assert.Equal($"{Fe}/mtu", ex.Path);
    }

    [Theory]
    [InlineData("frontend-id", "6")]
    [InlineData("frontend-id", "32752")]
    [InlineData("frontend-id", "-5")]
    [InlineData("frontend", "local/domain/5/device/vif/0")]
    [InlineData("frontend", "/local/domain/5/device/vif/0/")]
    [InlineData("mac", "00:16:3e:00:00")]
    [InlineData("mac", "00:16:3e:00:00:0g")]
    [InlineData("mtu", "67")]
    [InlineData("mtu", "65536")]
    [InlineData("mtu", " 1500")]
    [InlineData("online", "yes")]
    public async Task A_hostile_backend_key_is_refused_naming_it(string key, string value)
    {
        await CreateVifAsync();
        await _xs.WriteAsync($"{Be}/{key}", value);
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConfigAsync);
        Assert.Equal($"{Be}/{key}", ex.Path);
    }

    [Theory]
    [InlineData("/local/domain/5/device/vif/0\u001b[31m")]
    [InlineData("/local//domain/5")]
    [InlineData("/local/domain/5/device/vif/0 ")]
    [InlineData("/")]
    public async Task A_frontend_path_xenstore_would_refuse_is_refused_as_the_backend_s_bad_key_with_its_value_escaped(string frontend)
    {
        // Found while writing the xenbus fuzz target: such a path passed, and the first read under it failed with
        // xenstore's EINVAL, whose message printed the path's control characters as they are.
        await CreateVifAsync();
        await _xs.WriteAsync($"{Be}/frontend", frontend);
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConfigAsync);
        Assert.Equal($"{Be}/frontend", ex.Path);
        Assert.DoesNotContain('\u001b', ex.Message);
    }

    [Fact]
    public async Task A_backend_directory_without_a_frontend_is_refused()
    {
        await CreateVifAsync();
        await _xs.RemoveAsync($"{Be}/frontend");
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConfigAsync);
        Assert.Contains("missing", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("multi-queue-num-queues", "4")]
    [InlineData("multi-queue-num-queues", "x")]
    [InlineData("multi-queue-num-queues", "0")]
    [InlineData("multi-queue-num-queues", "2")]
    [InlineData("tx-ring-ref", "12x")]
    [InlineData("tx-ring-ref", "99999999999")]
    [InlineData("rx-ring-ref", "")]
    [InlineData("event-channel", "0")]
    [InlineData("event-channel", "131072")]
    [InlineData("request-rx-copy", "0")]
    [InlineData("feature-sg", "2")]
    [InlineData("feature-no-csum-offload", "true")]
    [InlineData("feature-gso-tcpv6", "\u001b[31m1")]
    public async Task A_hostile_frontend_key_is_refused_naming_it(string key, string value)
    {
        await CreateVifAsync();
        await WriteFrontendKeysAsync();
        await _xs.WriteAsync($"{Fe}/{key}", value);
        var ex = await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
        Assert.Equal($"{Fe}/{key}", ex.Path);
        Assert.DoesNotContain('\u001b', ex.Message);
    }

    [Theory]
    [InlineData("tx-ring-ref")]
    [InlineData("event-channel")]
    [InlineData("request-rx-copy")]
    public async Task A_frontend_key_netback_needs_is_refused_when_missing(string key)
    {
        await CreateVifAsync();
        await WriteFrontendKeysAsync();
        await _xs.RemoveAsync($"{Fe}/{key}");
        await Assert.ThrowsAsync<VifConfigException>(_backend.ReadConnectConfigAsync);
    }

    [Fact]
    public async Task A_repeated_frontend_state_is_no_change()
    {
        await CreateVifAsync();
        await _backend.ReadConfigAsync();
        Assert.Equal(XenbusState.Initialising, await _backend.ReadFrontendStateChangeAsync());
        Assert.Null(await _backend.ReadFrontendStateChangeAsync());
        await _xs.WriteAsync($"{Fe}/state", "4");
        Assert.Equal(XenbusState.Connected, await _backend.ReadFrontendStateChangeAsync());
        await _xs.WriteAsync($"{Fe}/state", "04");
        Assert.Equal(XenbusState.Unknown, await _backend.ReadFrontendStateChangeAsync());
        await _xs.RemoveAsync($"{Fe}/state");
        Assert.Null(await _backend.ReadFrontendStateChangeAsync());
        Assert.Equal(XenbusState.Unknown, _backend.FrontendState);
    }

    [Fact]
    public async Task Switching_to_InitWait_publishes_the_features_with_the_state()
    {
        await CreateVifAsync();
        Assert.True(await _backend.SwitchStateAsync(XenbusState.InitWait, publishFeatures: true));
        Assert.Equal(XenbusState.InitWait, _backend.State);
        Assert.Equal("2", await _xs.ReadAsync($"{Be}/state"));
        foreach (var (key, value) in NetbackFeatures.All)
            Assert.Equal(value, await _xs.ReadAsync($"{Be}/{key}"));
        Assert.Equal("1", await _xs.ReadAsync($"{Be}/multi-queue-max-queues"));
    }

    [Fact]
    public async Task No_state_is_written_into_a_backend_directory_the_toolstack_removed()
    {
        await CreateVifAsync();
        await new SimToolstack(_xs).RemoveVifAsync(Guest, 0);
        Assert.False(await _backend.SwitchStateAsync(XenbusState.Closed));
        Assert.False(await _backend.CompleteHotplugAsync("", playScript: true));
        Assert.Equal(XenbusState.Unknown, _backend.State);
        // No husk of the directory is left for a toolstack that has finished with it.
        Assert.Null(await _xs.ReadAsync(Be));
    }

    [Fact]
    public async Task Dev_fatal_writes_the_reason_to_the_error_node_and_goes_Closing()
    {
        await CreateVifAsync();
        Assert.True(await _backend.DevFatalAsync("tx-ring-ref: not an unsigned integer"));
        Assert.Equal("tx-ring-ref: not an unsigned integer", await _xs.ReadAsync("/local/domain/0/error/backend/vif/5/0/error"));
        Assert.Equal(XenbusStateText.Format(XenbusState.Closing), await _xs.ReadAsync($"{Be}/state"));
        Assert.Equal(XenbusState.Closing, _backend.State);
    }

    [Fact]
    public async Task The_backend_state_and_hotplug_status_are_read_and_the_scripts_part_played_when_asked()
    {
        await CreateVifAsync();
        await _xs.WriteAsync($"{Be}/state", "4");
        var hotplug = await _backend.ReadStateAndHotplugStatusAsync();
        Assert.Equal(XenbusState.Connected, _backend.State);
        Assert.Equal("", hotplug);
        Assert.False(await _backend.CompleteHotplugAsync(hotplug, playScript: false));
        Assert.Equal("", await _xs.ReadAsync($"{Be}/hotplug-status"));
        Assert.True(await _backend.CompleteHotplugAsync(hotplug, playScript: true));
        Assert.Equal(VifBackend.HotplugConnected, await _xs.ReadAsync($"{Be}/hotplug-status"));
        // Without the node there is no script to wait for.
        Assert.True(VifBackend.IsHotplugConnected(null));
        Assert.False(VifBackend.IsHotplugConnected("Connected"));
    }

    [Fact]
    public async Task The_watches_initial_events_bring_both_nodes_in()
    {
        await CreateVifAsync();
        await _backend.ReadConfigAsync();
        var frontend = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hotplug = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watches = await _backend.WatchAsync(() => frontend.TrySetResult(), () => hotplug.TrySetResult());
        try
        {
            await Task.WhenAll(frontend.Task, hotplug.Task).WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            foreach (var watch in watches)
                await watch.DisposeAsync();
        }
        Assert.Equal(2, watches.Length);
    }

    [Fact]
    public async Task The_error_path_and_the_state_node_are_those_of_the_toolstack()
    {
        await CreateVifAsync();
        Assert.Equal(SimToolstack.ErrorPath(0, Guest, 0), _backend.Paths.ErrorDir);
        Assert.Equal(SimToolstack.BackendPath(0, Guest, 0), _backend.Paths.BackendDir);
        Assert.Equal(Guest.ToString(CultureInfo.InvariantCulture), await _xs.ReadAsync(_backend.Paths.Backend("frontend-id")));
    }
}
