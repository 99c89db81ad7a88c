using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.DataPath;

/// <summary>
/// XDP headroom end to end under SIMXEN (issue 15, item 4; decision 78): a netfront that writes
/// <c>xdp-headroom</c>, at connect or then Reconfiguring, gets every frame with that headroom before the
/// data of each slot and an XDP extra saying so, frames of 1 to 18 slots intact; its peer, which writes no
/// headroom, gets its frames as before.
/// </summary>
public sealed class XdpHeadroomTests : TestKit, IAsyncLifetime
{
    private const ushort Headroom = 256; // Linux netfront's XDP_PACKET_HEADROOM
    private const int PerGuest = 600;
    private static readonly byte[] Mac1 = [0x00, 0x16, 0x3e, 0, 0, 0x31];
    private static readonly byte[] Mac2 = [0x00, 0x16, 0x3e, 0, 0, 0x32];

    private SimBackendFixture _sim = null!;
    private readonly List<IXenStore> _clients = [];

    public XdpHeadroomTests() : base(@"akka.loglevel = INFO")
    {
    }

    public async Task InitializeAsync() => _sim = await SimBackendFixture.CreateAsync();

    public async Task DisposeAsync()
    {
        await Sys.Terminate();
        foreach (var c in _clients)
            await c.DisposeAsync();
        await _sim.DisposeAsync();
    }

    private async Task<(SimNetfront G1, SimNetfront G2)> StartPairAsync(ushort d1, ushort d2, ushort? headroom1, CancellationToken ct)
    {
        var toolstack = new SimToolstack(_sim.XenStore);
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = d1, Handle = 0, Mac = "00:16:3e:00:00:31", Mtu = 65521 });
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = d2, Handle = 0, Mac = "00:16:3e:00:00:32", Mtu = 65521 });
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), "xenbus");
        var g1 = await StartGuest(d1, headroom1);
        var g2 = await StartGuest(d2, null);
        await g1.WaitForConnectedAsync(ct);
        await g2.WaitForConnectedAsync(ct);
        await FrameExchangeTests.HelloAsync(g1, Mac1, g2, Mac2, ct);
        await AwaitAssertAsync(() => Assert.Equal(2, _sim.Status.Snapshot().Sum(v => Interlocked.Read(ref v.RxPackets))), TimeSpan.FromSeconds(10));
        return (g1, g2);
    }

    private async Task<SimNetfront> StartGuest(ushort domid, ushort? headroom)
    {
        var client = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _clients.Add(client);
        var options = new SimNetfrontOptions { Root = _sim.Root, DomId = domid, FeatureGsoTcpV4 = true, FeatureGsoTcpV6 = true, XdpHeadroom = headroom };
        return await SimNetfront.StartAsync(options, client);
    }

    /// <summary>Frames of 1 to 18 slots both ways; returns what each side received.</summary>
    private static async Task<(FrameExchangeTests.Receiver Rx1, FrameExchangeTests.Receiver Rx2)> ExchangeAsync(SimNetfront g1, SimNetfront g2, int seed, CancellationToken ct)
    {
        var rx1 = new FrameExchangeTests.Receiver(PerGuest);
        var rx2 = new FrameExchangeTests.Receiver(PerGuest);
        g1.Consumer = rx1;
        g2.Consumer = rx2;
        await Task.WhenAll(
            FrameExchangeTests.Send(g1, Mac2, Mac1, rx2, PerGuest, seed, ct),
            FrameExchangeTests.Send(g2, Mac1, Mac2, rx1, PerGuest, seed + 1, ct));
        try
        {
            await Task.WhenAll(rx1.Done.Task, rx2.Done.Task).WaitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"received {rx1.Count} and {rx2.Count} of {PerGuest}; RX errors {g1.Counters.RxErrors} and {g2.Counters.RxErrors}; {g1.RingBroken}");
        }
        Assert.Empty(rx1.Problems);
        Assert.Empty(rx2.Problems);
        Assert.True(rx1.GsoFrames > 0 && rx2.GsoFrames > 0, "GSO frames should arrive with their GSO extra");
        return (rx1, rx2);
    }

    private void AssertClean(SimNetfront g1, SimNetfront g2)
    {
        Assert.Null(g1.RingBroken);
        Assert.Equal(0, g1.Counters.RxErrors);
        Assert.Equal(0, g2.Counters.RxErrors);
        foreach (var v in _sim.Status.Snapshot())
        {
            Assert.False(v.Disabled);
            Assert.Equal(0, Interlocked.Read(ref v.RxDropped));
        }
    }

    [Fact]
    public async Task A_headroom_written_at_connect_leads_every_slot_of_every_frame_and_its_peer_is_unchanged()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (g1, g2) = await StartPairAsync(31, 32, Headroom, cts.Token);
        Assert.Equal("1", await _sim.XenStore.ReadAsync($"{SimToolstack.BackendPath(0, 31, 0)}/feature-xdp-headroom"));

        var (rx1, rx2) = await ExchangeAsync(g1, g2, seed: 1, cts.Token);

        Assert.Equal(new Dictionary<ushort, int> { [Headroom] = PerGuest }, rx1.Headrooms);
        Assert.Equal(new Dictionary<ushort, int> { [0] = PerGuest }, rx2.Headrooms);
        AssertClean(g1, g2);
        await g1.DisposeAsync();
        await g2.DisposeAsync();
    }

    [Fact]
    public async Task A_headroom_set_by_Reconfiguring_applies_to_the_connected_vif_from_then_on()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (g1, g2) = await StartPairAsync(33, 34, headroom1: null, cts.Token);
        var (before, _) = await ExchangeAsync(g1, g2, seed: 3, cts.Token);
        Assert.Equal(new Dictionary<ushort, int> { [0] = PerGuest }, before.Headrooms);

        await g1.ReconfigureAsync(Headroom, cts.Token);
        Assert.Equal("8", await _sim.XenStore.ReadAsync($"{SimToolstack.BackendPath(0, 33, 0)}/state"));
        var (during, _) = await ExchangeAsync(g1, g2, seed: 5, cts.Token);
        Assert.Equal(new Dictionary<ushort, int> { [Headroom] = PerGuest }, during.Headrooms);

        AssertClean(g1, g2);
        await g1.DisposeAsync();
        await g2.DisposeAsync();
    }
}
