using System.Net;
using Akka.TestKit.Xunit2;
using Backend.Actors.HostNetwork;
using Backend.Actors.Tests.Support;
using Backend.Actors.Uplink;
using Backend.Actors.Xenbus;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Uplink;

/// <summary>
/// The uplink for real: the actor tree over SIMXEN, an uplink TAP on the vifs' bridge, and the host's
/// own stack pinging a simulated guest through it, from a network namespace the test creates (the TAP is
/// moved there, so nothing outside the namespace sees the traffic).
/// </summary>
public sealed class UplinkTests : TestKit, IAsyncLifetime
{
    private SimBackendFixture _sim = null!;
    private readonly List<IXenStore> _clients = [];
    private readonly HostTaps _taps = new();

    public UplinkTests() : base(@"akka.loglevel = INFO")
    {
    }

    public async Task InitializeAsync() => _sim = await SimBackendFixture.CreateAsync();

    public async Task DisposeAsync()
    {
        await Sys.Terminate();
        _taps.Dispose();
        foreach (var c in _clients)
            await c.DisposeAsync();
        await _sim.DisposeAsync();
    }

    [SkippableFact]
    public async Task Ping_from_the_host_stack_through_the_uplink_is_answered_by_a_simulated_guest()
    {
        HostNetworkLab.RequirePrerequisites();
        var tapName = HostNetworkLab.RandomName("xnbu");
        var spec = new UplinkSpec(tapName, "xenbr0", null);
        TapDevice? tap = null;
        using var lab = HostNetworkLab.Create();
        try
        {
            const ushort domid = 3011;
            await new SimToolstack(_sim.XenStore).CreateVifAsync(new SimVifSpec { GuestDomId = domid, Handle = 0, Mac = "00:16:3e:0b:c3:01", Bridge = "xenbr0" });
            var services = _sim.Services(Sys) with { Taps = _taps };
            Sys.ActorOf(XenbusSupervisor.Props(services), "xenbus");
            tap = UplinkDevice.Open(spec);
            var counters = new TapPortCounters();
            Sys.ActorOf(UplinkActor.Props(spec, tap, services, counters), "uplink");

            var client = await XenStoreClient.ConnectAsync(_sim.SocketPath);
            _clients.Add(client);
            await using var guest = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = _sim.Root, DomId = domid }, client);
            var responder = new SimIpResponder(guest, IPAddress.Parse("10.77.0.2"));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await guest.WaitForConnectedAsync(cts.Token);
            responder.Announce();

            Assert.True(TapDevice.IsOurs(tapName), $"{tapName} should carry the daemon's alias");
            lab.MoveInAndAddress(tapName, "10.77.0.1/24");

            // Every one of five echo requests answered, within a bound that only a lost one reaches: the
            // answers ride actors on this process's pool, which other tests load, so they may come late.
            var (ok, output) = await lab.PingAsync("10.77.0.2", 5, TimeSpan.FromSeconds(10));
            Assert.True(ok, $"ping from namespace {lab.Namespace} to the guest was not answered 5 times:\n{output}\nuplink counters: from host {counters.FromHost} (dropped {counters.FromHostDropped}), to host {counters.ToHost} (dropped {counters.ToHostDropped}, errno {counters.LastWriteError}); guest answered ARP {responder.ArpAnswered}, echo {responder.EchoAnswered}, dropped {responder.Dropped}, bad checksums {responder.BadChecksums}");
            // Each answer is counted before it leaves, so the guest has counted every one ping saw.
            Assert.True(responder.EchoAnswered >= 5, $"the guest answered {responder.EchoAnswered} echo requests, not 5");
            Assert.Equal(0, responder.BadChecksums);
        }
        finally
        {
            await Sys.Terminate();
            tap?.Delete();
            TapDevice.Delete(tapName);
        }
    }
}
