using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Tests.Vif;

/// <summary>
/// A vif's control ring in the actor tree under SIMXEN (decision 82): connected as Linux's connect_ctrl_ring
/// (a bad <c>event-channel-ctrl</c> or ring reference fails the connection with a xenbus error), served by
/// its own actor (a hostile <c>req_prod</c> disables the vif), and the hash it set kept when a new
/// <c>rate</c> re-attaches the data path.
/// </summary>
public sealed class CtrlRingTests : TestKit, IAsyncLifetime
{
    private SimBackendFixture _sim = null!;
    private readonly List<IAsyncDisposable> _owned = [];

    public CtrlRingTests() : base(@"akka.loglevel = INFO")
    {
    }

    public async Task InitializeAsync() => _sim = await SimBackendFixture.CreateAsync();

    public async Task DisposeAsync()
    {
        await Sys.Terminate();
        for (var i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        await _sim.DisposeAsync();
    }

    private async Task<SimNetfront> StartAsync(ushort domid, bool ctrlRing, IReadOnlyDictionary<string, string>? frontendKeys = null)
    {
        await new SimToolstack(_sim.XenStore).CreateVifAsync(new SimVifSpec { GuestDomId = domid, Handle = 0, Mac = $"00:16:3e:00:00:{domid:x2}" });
        foreach (var (key, value) in frontendKeys ?? new Dictionary<string, string>())
            await _sim.XenStore.WriteAsync($"/local/domain/{domid}/device/vif/0/{key}", value);
        var client = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _owned.Add(client);
        var front = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = _sim.Root, DomId = domid, CtrlRing = ctrlRing }, client);
        _owned.Add(front);
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), $"xenbus-{domid}");
        return front;
    }

    [Theory]
    [InlineData("5", null, "event-channel-ctrl: missing")]
    [InlineData("5", "ctrl", "event-channel-ctrl = \"ctrl\"")]
    [InlineData("5", "0", "port 0 is invalid")]
    [InlineData("9000", "5", "reference 9000")]
    public async Task A_ctrl_ring_the_backend_cannot_connect_fails_the_connection_with_a_xenbus_error(string ringRef, string? port, string reason)
    {
        var keys = new Dictionary<string, string> { [FrontendCtrlRing.RingRefKey] = ringRef };
        if (port is not null)
            keys[FrontendCtrlRing.EventChannelKey] = port;
        const ushort domid = 71;
        await StartAsync(domid, ctrlRing: false, keys);

        await AwaitAssertAsync(async () =>
        {
            var error = await _sim.XenStore.ReadAsync($"{SimToolstack.ErrorPath(0, domid, 0)}/error");
            Assert.NotNull(error);
            Assert.Contains(reason, error, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10));
        // The error node is written with Closing in one transaction (VifBackend.DevFatalAsync); the state is
        // not read here, as the simulated netfront follows at once (Closed, then a new Initialising).
        Assert.False(_sim.Status.Snapshot().Single(v => v.Id.DomId == domid).Carrier);
    }

    [Fact]
    public async Task A_ctrl_ring_reference_that_is_no_number_is_no_ctrl_ring_as_linux_reads_it()
    {
        var front = await StartAsync(72, ctrlRing: false, new Dictionary<string, string> { [FrontendCtrlRing.RingRefKey] = "none" });
        await front.WaitForConnectedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        Assert.Null(_sim.Status.Snapshot().Single(v => v.Id.DomId == 72).Hash);
    }

    [Fact]
    public async Task An_impossible_ctrl_req_prod_disables_the_vif()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var front = await StartAsync(73, ctrlRing: true);
        await front.WaitForConnectedAsync(cts.Token);
        Assert.Equal(NetifCtrlStatus.Success, (await front.CtrlRequestAsync(NetifCtrlType.SetHashAlgorithm, 1, cancellationToken: cts.Token)).Status);

        front.PushCtrlRequestProducer(1 + NetifConstants.CtrlRingSize + 1);

        await AwaitAssertAsync(() =>
        {
            var status = _sim.Status.Snapshot().Single(v => v.Id.DomId == 73);
            Assert.True(status.Disabled);
            Assert.Contains("impossible ctrl req_prod", status.Fault, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_hash_a_frontend_set_survives_a_new_rate_reattaching_the_data_path()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var front = await StartAsync(74, ctrlRing: true);
        await front.WaitForConnectedAsync(cts.Token);
        Assert.Equal(NetifCtrlStatus.Success, (await front.CtrlRequestAsync(NetifCtrlType.SetHashAlgorithm, 1, cancellationToken: cts.Token)).Status);
        Assert.Equal(NetifCtrlStatus.Success, (await front.CtrlRequestAsync(NetifCtrlType.SetHashFlags, 3, cancellationToken: cts.Token)).Status);
        var status = _sim.Status.Snapshot().Single(v => v.Id.DomId == 74);
        var before = status.Restarts;

        await EventFilter.Info(contains: "data path attached again").ExpectOneAsync(TimeSpan.FromSeconds(10),
            () => _sim.XenStore.WriteAsync($"{SimToolstack.BackendPath(0, 74, 0)}/rate", "1000000,20000"));

        // The re-attach made new ring actors; the ctrl ring is served again, with the hash as it was.
        var flags = await front.CtrlRequestAsync(NetifCtrlType.GetHashFlags, cancellationToken: cts.Token);
        Assert.Equal(NetifCtrlStatus.Success, flags.Status);
        Assert.Equal((1u, 3u), (status.Hash!.Current.Algorithm, status.Hash.Current.Flags));
        Assert.Equal(before, status.Restarts);
    }
}
