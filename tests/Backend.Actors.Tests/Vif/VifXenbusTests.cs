using Akka.Event;
using Akka.TestKit.Xunit2;
using Backend.Actors.HostNetwork;
using Backend.Actors.Status;
using Backend.Actors.Tests.Support;
using Backend.Actors.Vif;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Tests.Vif;

/// <summary>
/// A vif's xenbus device as its connection actor drives it (netback's xenbus.c): the probe's reads and the
/// status they fill in, the TAP the probe has opened, xenbus_dev_fatal, and which connect failures are
/// the frontend's. Over the embedded xenstore, without the actor.
/// </summary>
public sealed class VifXenbusTests : TestKit, IAsyncLifetime
{
    private const ushort Guest = 7;
    private const string Mac = "00:16:3e:00:00:07";

    private static readonly VifPaths Paths = new(0, new VifId(Guest, 0));

    private SimBackendFixture _sim = null!;
    private readonly VifStatus _status = new(Paths.Vif);

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        await new SimToolstack(_sim.XenStore).CreateVifAsync(new SimVifSpec { GuestDomId = Guest, Handle = 0, Mac = Mac });
    }

    public async Task DisposeAsync() => await _sim.DisposeAsync();

    private VifXenbus NewXenbus(SwitchMode mode = SwitchMode.InProcess) =>
        new(new VifBackend(_sim.BackendXenStore, Paths), _status, new VifLog(Logging.GetLogger(Sys, "vif-xenbus-test"), _status),
            new BackendOptions { WriteHotplugStatus = true, Switch = mode });

    [Fact]
    public async Task Probe_reads_the_toolstacks_keys_into_the_status_and_plays_the_hotplug_script_under_simxen()
    {
        var xenbus = NewXenbus();
        var tapOpened = false;

        Assert.Null(await xenbus.ProbeAsync(_ => tapOpened = true));

        Assert.Equal(Mac, _status.Mac);
        Assert.Equal(SimVifSpec.DefaultBridge, _status.Bridge);
        Assert.Equal(nameof(XenbusState.Initialising), _status.State);
        Assert.True(xenbus.HotplugConnected);
        Assert.Equal(VifBackend.HotplugConnected, await _sim.XenStore.ReadAsync(Paths.Backend("hotplug-status")));
        Assert.False(tapOpened, "no TAP is opened without --switch tap");
    }

    [Fact]
    public async Task Probe_of_a_vif_with_a_malformed_mac_says_why_and_opens_no_tap()
    {
        await _sim.XenStore.WriteAsync(Paths.Backend("mac"), "00:16:3e:zz:00:07");
        var tapOpened = false;

        var failure = await NewXenbus(SwitchMode.Tap).ProbeAsync(_ => tapOpened = true);

        Assert.NotNull(failure);
        Assert.Contains("mac", failure);
        Assert.False(tapOpened);
    }

    [Fact]
    public async Task Probe_under_switch_tap_opens_the_tap_with_the_vifname_and_reports_one_that_cannot_be_created()
    {
        await _sim.XenStore.WriteAsync(Paths.Backend("vifname"), "guest7");
        string? asked = null;

        var failure = await NewXenbus(SwitchMode.Tap).ProbeAsync(name =>
        {
            asked = name;
            throw new IOException("no /dev/net/tun");
        });

        Assert.Equal("guest7", asked);
        Assert.Equal("cannot create the vif's TAP device: no /dev/net/tun", failure);
    }

    [Fact]
    public async Task Fail_writes_the_error_node_and_Closing_and_the_status_counts_the_fault()
    {
        var xenbus = NewXenbus();
        Assert.Null(await xenbus.ProbeAsync(_ => { }));

        await xenbus.FailAsync("grant 8 refused");

        Assert.Equal("grant 8 refused", await _sim.XenStore.ReadAsync($"{Paths.ErrorDir}/error"));
        Assert.Equal(((int)XenbusState.Closing).ToString(), await _sim.XenStore.ReadAsync(Paths.Backend("state")));
        Assert.Equal(XenbusState.Closing, xenbus.State);
        Assert.Equal(nameof(XenbusState.Closing), _status.State);
        Assert.Equal("grant 8 refused", _status.Fault);
        Assert.Equal(1, _status.Faults);
    }

    [Fact]
    public async Task A_connect_whose_frontend_keys_are_missing_fails_by_the_frontends_fault_and_attaches_nothing()
    {
        var xenbus = NewXenbus();
        Assert.Null(await xenbus.ProbeAsync(_ => { }));
        var attached = false;

        Assert.Null(await xenbus.ConnectAsync(_ => attached = true));

        Assert.False(attached);
        Assert.Equal(1, _status.Faults);
        Assert.Equal(XenbusState.Closing, xenbus.State);
        Assert.NotNull(await _sim.XenStore.ReadAsync($"{Paths.ErrorDir}/error"));
    }

    [Fact]
    public void A_lost_xenstore_connection_is_not_the_frontends_fault_but_a_refused_grant_is()
    {
        Assert.False(VifXenbus.IsFrontendFault(new XenStoreConnectionException("connection lost")));
        Assert.True(VifXenbus.IsFrontendFault(new GrantException(-1, "bad grant")));
        Assert.True(VifXenbus.IsFrontendFault(new IOException("map failed")));
        Assert.False(VifXenbus.IsFrontendFault(new NullReferenceException()));
    }

    [Fact]
    public async Task A_malformed_rate_is_read_as_unlimited_and_warned_about_once_per_value()
    {
        // As Linux's xen_net_read_rate ("Traffic unlimited"), but one line per value, not per read.
        var xenbus = NewXenbus();
        Assert.Null(await xenbus.ProbeAsync(_ => { }));
        await _sim.XenStore.WriteAsync(Paths.Backend("rate"), "fast");
        await EventFilter.Warning(contains: "traffic unlimited").ExpectAsync(1, async () =>
        {
            Assert.Equal((null, "fast"), await xenbus.ReadRateAsync());
            Assert.Equal((null, "fast"), await xenbus.ReadRateAsync());
        });

        await _sim.XenStore.WriteAsync(Paths.Backend("rate"), "1000,10000");
        await EventFilter.Warning().ExpectAsync(0, async () =>
            Assert.Equal((new RateLimit(1000, 10000), null), await xenbus.ReadRateAsync()));

        // The same bad value again after a good one, and a new bad value: a line each.
        await EventFilter.Warning(contains: "traffic unlimited").ExpectAsync(2, async () =>
        {
            await _sim.XenStore.WriteAsync(Paths.Backend("rate"), "fast");
            await xenbus.ReadRateAsync();
            await _sim.XenStore.WriteAsync(Paths.Backend("rate"), "\u001b[31m1,0");
            await xenbus.ReadRateAsync();
        });
        Assert.Equal(0, _status.Faults);
    }
}
