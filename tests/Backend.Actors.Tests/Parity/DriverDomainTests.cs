using System.Globalization;
using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Actors.Tests.Parity;

/// <summary>
/// A driver domain (issue 15, item 7): the daemon as domain 3 under SIMXEN ("A process is domain D by owning
/// ROOT/dom&lt;D&gt;/"; the toolstack writes the vifs under <c>/local/domain/3/backend</c> and the frontends'
/// <c>backend-id</c> 3), serving guests whose grants and event channels are for domain 3.
/// </summary>
public sealed class DriverDomainTests : TestKit, IAsyncLifetime
{
    private const ushort Backend = 3;
    private const int Frames = 200;

    private readonly List<RateGuest> _guests = [];
    private SimBackendFixture _sim = null!;
    private InProcessDaemon _daemon = null!;

    public DriverDomainTests(ITestOutputHelper output) : base("akka.loglevel = INFO", output)
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        // No domain 0 backend runs: only the driver domain serves vifs.
        await _sim.Platform.DisposeAsync();
        _daemon = await InProcessDaemon.StartAsync(_sim, "xnb-dom3", Backend);
    }

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        foreach (var g in _guests)
            await g.DisposeAsync();
        await _sim.DisposeAsync();
    }

    private async Task<uint> FrontendUIntAsync(ushort guest, string key) =>
        uint.Parse((await _sim.XenStore.ReadAsync($"{SimToolstack.FrontendPath(guest, 0)}/{key}"))!, CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_daemon_in_domain_3_serves_guests_through_its_own_backend_directory_grants_and_event_channels()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var a = await RateGuest.StartAsync(_sim, 41, "dd", backend: Backend);
        _guests.Add(a);
        var b = await RateGuest.StartAsync(_sim, 42, "dd", backend: Backend);
        _guests.Add(b);
        await a.Netfront.WaitForConnectedAsync(cts.Token);
        await b.Netfront.WaitForConnectedAsync(cts.Token);
        await a.SendHelloAsync(cts.Token);
        await b.SendHelloAsync(cts.Token);

        // Frames both ways through domain 3's bridge (fewer than 256 in flight: none may be lost).
        await a.SendAsync(b.DomId, Frames, cts.Token);
        await b.SendAsync(a.DomId, Frames, cts.Token);
        await AwaitAssertAsync(() => Assert.True(a.Frames == Frames && b.Frames == Frames, $"received {a.Frames} and {b.Frames} of {Frames}"), TimeSpan.FromSeconds(20));

        foreach (var g in _guests)
        {
            var id = g.DomId;
            Assert.Equal(Backend, g.Netfront.BackendDomId);
            Assert.Equal("4", await _sim.XenStore.ReadAsync($"{SimToolstack.BackendPath(Backend, id, 0)}/state"));
            Assert.Equal("connected", await _sim.XenStore.ReadAsync($"{SimToolstack.BackendPath(Backend, id, 0)}/hotplug-status"));
            Assert.Null(await _sim.XenStore.ReadAsync($"/local/domain/{Backend}/error/backend/vif/{id}/0/error"));

            // The ring grants are domain 3's, and in use by it: mapped, so GTF_reading and GTF_writing are set.
            foreach (var key in new[] { "tx-ring-ref", "rx-ring-ref" })
            {
                var (flags, grantee) = SimDomainFiles.Grant(_sim.Root, id, await FrontendUIntAsync(id, key));
                Assert.Equal(Backend, grantee);
                Assert.True((flags & (8 | 16)) == (8 | 16), $"guest {id}'s {key} grant is not mapped (flags {flags:x})");
            }

            // The guest's port is bound to a port of domain 3, whose entry names it back.
            var port = await FrontendUIntAsync(id, "event-channel");
            var ours = SimDomainFiles.EventChannel(_sim.Root, id, port);
            Assert.True(ours.IsInterdomain && ours.PeerDomId == Backend, $"guest {id}'s port {port} is {ours}");
            Assert.Equal(SimEventChannelEntry.Interdomain(id, port), SimDomainFiles.EventChannel(_sim.Root, Backend, ours.PeerPort));
        }
        Assert.Null(await _sim.XenStore.ReadAsync("/local/domain/0/backend"));
        Assert.All(_daemon.Status.Snapshot(), v => Assert.Equal((nameof(XenbusState.Connected), false), (v.State, v.Disabled)));
        Assert.Equal(2, _daemon.Status.Snapshot().Count);
    }
}
