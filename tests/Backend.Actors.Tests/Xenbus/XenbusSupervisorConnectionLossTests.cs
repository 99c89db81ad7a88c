using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Platform.Sim.Toolstack;

namespace Backend.Actors.Tests.Xenbus;

/// <summary>
/// A look of the xenbus supervisor lost with the xenstore connection is no failure of the daemon: the
/// reconnecting client sets the watch again and its event brings a rescan. Restarting the supervisor for
/// it would stop every vif tree with it.
/// </summary>
public sealed class XenbusSupervisorConnectionLossTests : TestKit, IAsyncLifetime
{
    private const string Root = "/local/domain/0/backend/vif";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private SimBackendFixture _sim = null!;
    private SimToolstack _toolstack = null!;

    public XenbusSupervisorConnectionLossTests() : base(@"akka.loglevel = INFO")
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        _toolstack = new SimToolstack(_sim.XenStore);
    }

    public async Task DisposeAsync()
    {
        // The actors hold ring mappings and event channels: stop them before the platform goes.
        await Sys.Terminate();
        await _sim.DisposeAsync();
    }

    private Task CreateVif(ushort g) =>
        _toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = g, Handle = 0, Mac = $"00:16:3e:00:00:{g:x2}" });

    private async Task AwaitBackendState(ushort g, string expected) =>
        await AwaitAssertAsync(async () => Assert.Equal(expected, await _sim.XenStore.ReadAsync($"{Root}/{g}/0/state")), Timeout, TimeSpan.FromMilliseconds(20));

    [Fact]
    public async Task Looks_lost_with_the_xenstore_connection_are_made_again_without_restarting_the_supervisor()
    {
        var store = new ConnectionLosingXenStore(_sim.BackendXenStore);
        Sys.EventStream.Subscribe(TestActor, typeof(XenbusProtocol.Ready));
        await CreateVif(20);
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys) with { XenStore = store }), "xenbus");
        await ExpectMsgAsync<XenbusProtocol.Ready>(Timeout);
        await AwaitBackendState(20, "2");

        // A look at the new vif's domain lost: later events for its keys bring it in.
        store.LoseNextDirectory();
        await CreateVif(21);
        await AwaitBackendState(21, "2");
        // A full rescan lost, then the one the watch set again brings.
        store.LoseNextDirectory();
        store.FireAgain(Root);
        await AwaitAssertAsync(() => Assert.Equal(2, store.Lost), Timeout);
        await CreateVif(22);
        store.FireAgain(Root);
        await AwaitBackendState(22, "2");

        // Restarted, the supervisor would have set its watch (and published Ready) again, stopping vif 20's tree.
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        Assert.All(_sim.Status.Snapshot(), v => Assert.Equal(0, v.Faults));
        Assert.Equal("2", await _sim.XenStore.ReadAsync($"{Root}/20/0/state"));
    }
}
