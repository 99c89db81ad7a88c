using System.Net;
using Akka.TestKit.Xunit2;
using Backend.Actors.HostNetwork;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Tests.Uplink;

/// <summary>
/// <c>--switch tap</c> over SIMXEN: each vif gets its own persistent TAP, the test plays vif-bridge by
/// putting the TAPs on a Linux bridge inside a namespace it creates, and the guests ping each other
/// through the kernel's bridge. High domids keep the names clear of anything real.
/// </summary>
public sealed class TapSwitchTests : TestKit, IAsyncLifetime
{
    private const int IFF_PERSIST = 0x800;
    private SimBackendFixture _sim = null!;
    private readonly List<IXenStore> _clients = [];
    private readonly HostTaps _taps = new();

    public TapSwitchTests() : base(@"akka.loglevel = INFO")
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

    private static bool Exists(string device) => Directory.Exists($"/sys/class/net/{device}");

    private async Task<(SimNetfront Front, SimIpResponder Ip)> StartGuest(ushort domid, string ip)
    {
        var client = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _clients.Add(client);
        var front = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = _sim.Root, DomId = domid, FeatureGsoTcpV4 = true }, client);
        return (front, new SimIpResponder(front, IPAddress.Parse(ip)));
    }

    [SkippableFact]
    public async Task With_a_TAP_per_vif_the_rings_are_served_only_once_hotplug_status_reads_connected()
    {
        HostNetworkLab.RequirePrerequisites();
        const ushort dom = 3041;
        var tap = TapDevice.VifName(dom, 0);
        Skip.If(Exists(tap), $"{tap} exists already on this host; not touching it");
        try
        {
            var toolstack = new SimToolstack(_sim.XenStore);
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = dom, Handle = 0, Mac = "00:16:3e:0b:e1:01" });
            // As on real Xen: the daemon does not write hotplug-status; the hotplug script does, later.
            var services = _sim.Services(Sys, new BackendOptions { WriteHotplugStatus = false, Switch = SwitchMode.Tap }) with { Taps = _taps };
            Sys.ActorOf(XenbusSupervisor.Props(services), "xenbus");
            var (front, _) = await StartGuest(dom, "10.77.41.1");
            await using (front)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await front.WaitForBackendStateAsync(s => s == Backend.Xen.Abi.XenbusState.InitWait, cts.Token);
                await AwaitAssertAsync(() => Assert.Equal(Backend.Xen.Abi.XenbusState.Connected, front.State), TimeSpan.FromSeconds(10));
                Assert.True(Exists(tap), "the TAP exists before InitWait, for the hotplug script");

                // The frontend is Connected and sends, but nothing is consumed while the script has not run.
                var frame = new byte[60];
                frame.AsSpan(0, 6).Fill(0xff);
                Assert.True(front.TrySend(frame));
                await Task.Delay(500, cts.Token);
                Assert.Equal(1, front.TxOutstanding);
                Assert.Equal("2", await _sim.XenStore.ReadAsync($"/local/domain/0/backend/vif/{dom}/0/state"));

                await _sim.XenStore.WriteAsync($"/local/domain/0/backend/vif/{dom}/0/hotplug-status", "connected");
                await front.WaitForBackendStateAsync(s => s == Backend.Xen.Abi.XenbusState.Connected, cts.Token);
                await AwaitAssertAsync(() => Assert.Equal(0, front.TxOutstanding), TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            // The daemon keeps a vif's TAP when it stops (for its next run): stop it, then delete ours.
            await Sys.Terminate();
            if (Exists(tap))
                TapDevice.Delete(tap);
        }
    }

    [SkippableFact]
    public async Task Guests_ping_each_other_through_a_Linux_bridge_their_persistent_TAPs_are_on_and_each_TAP_goes_with_its_vif()
    {
        HostNetworkLab.RequirePrerequisites();
        const ushort dom1 = 3031, dom2 = 3032, staleDom = 3039, foreignDom = 3038;
        string tap1 = TapDevice.VifName(dom1, 0), tap2 = TapDevice.VifName(dom2, 0);
        string stale = TapDevice.VifName(staleDom, 0), foreign = TapDevice.VifName(foreignDom, 0);
        string[] all = [tap1, tap2, stale, foreign];
        foreach (var name in all)
            Skip.If(Exists(name), $"{name} exists already on this host; not touching it");
        using var lab = HostNetworkLab.Create();
        try
        {
            // Left by an earlier run: one of ours with no backend dir, one of another backend domain's.
            using (var left = TapDevice.Open(stale))
            {
                left.SetPersistent(true);
                left.SetAlias(VifTap.Alias(0, new VifId(staleDom, 0), _sim.Root.Path));
            }
            using (var other = TapDevice.Open(foreign))
            {
                other.SetPersistent(true);
                other.SetAlias(VifTap.Alias(7, new VifId(foreignDom, 0)));
            }

            var toolstack = new SimToolstack(_sim.XenStore);
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = dom1, Handle = 0, Mac = "00:16:3e:0b:d7:01" });
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = dom2, Handle = 0, Mac = "00:16:3e:0b:d8:01" });
            var services = _sim.Services(Sys, new BackendOptions { WriteHotplugStatus = true, Switch = SwitchMode.Tap }) with { Taps = _taps };
            var supervisor = Sys.ActorOf(XenbusSupervisor.Props(services), "xenbus");

            var (g1, ip1) = await StartGuest(dom1, "10.79.0.1");
            await using var guest1 = g1;
            var (g2, ip2) = await StartGuest(dom2, "10.79.0.2");
            await using var guest2 = g2;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await guest1.WaitForConnectedAsync(cts.Token);
            await guest2.WaitForConnectedAsync(cts.Token);

            Assert.False(Exists(stale), $"{stale} is ours and no backend dir claims it: it should have been deleted at start");
            Assert.True(Exists(foreign), $"{foreign} belongs to another backend domain: it should have been left alone");
            foreach (var name in new[] { tap1, tap2 })
            {
                Assert.True(Exists(name), $"{name} should exist once its vif is served");
                var flags = Convert.ToInt32(File.ReadAllText($"/sys/class/net/{name}/tun_flags").Trim(), 16);
                Assert.True((flags & IFF_PERSIST) != 0, $"{name} should be persistent (tun_flags {flags:x})");
                Assert.True((flags & 0x4000) != 0, $"{name} should carry the virtio-net header (IFF_VNET_HDR)");
                Assert.True(TapDevice.IsOurs(name), $"{name} should carry the daemon's alias");
            }

            // A daemon that stops and starts again re-opens the same devices (same ifindex), deleting none.
            var indexes = new[] { tap1, tap2 }.Select(n => File.ReadAllText($"/sys/class/net/{n}/ifindex").Trim()).ToArray();
            Watch(supervisor);
            Sys.Stop(supervisor);
            ExpectTerminated(supervisor, TimeSpan.FromSeconds(10));
            Assert.True(Exists(tap1) && Exists(tap2), "persistent TAPs must outlive the daemon's actors");
            _sim.Status.Remove(new VifId(dom1, 0));
            _sim.Status.Remove(new VifId(dom2, 0));
            Sys.ActorOf(XenbusSupervisor.Props(services), "xenbus-again");
            // The MTU is published once the rings are attached, which comes after the TAP is open.
            await AwaitAssertAsync(() => Assert.Equal(2, _sim.Status.Snapshot().Count(v => v.Mtu > 0 && v.State == "Connected")), TimeSpan.FromSeconds(10));
            Assert.Equal(indexes, new[] { tap1, tap2 }.Select(n => File.ReadAllText($"/sys/class/net/{n}/ifindex").Trim()).ToArray());

            // What vif-bridge does on real Xen, here inside the test's namespace.
            lab.InNamespace("ip", "link", "add", "xnbbr0", "type", "bridge");
            lab.InNamespace("ip", "link", "set", "xnbbr0", "up");
            foreach (var name in new[] { tap1, tap2 })
            {
                lab.MoveIn(name);
                lab.InNamespace("ip", "link", "set", name, "master", "xnbbr0");
                lab.InNamespace("ip", "link", "set", name, "up");
            }
            ip1.Announce();
            ip2.Announce();
            for (ushort seq = 1; seq <= 3; seq++)
                await ip1.PingAsync(IPAddress.Parse("10.79.0.2"), seq, 56, TimeSpan.FromSeconds(5), cts.Token);
            Assert.True(ip2.EchoAnswered >= 3, $"guest 2 answered {ip2.EchoAnswered} echo requests");

            // Unplugged (online=0, Closing): the backend forgets the vif, and its TAP goes.
            await toolstack.UnplugVifAsync(dom1, 0);
            await AwaitConditionAsync(() => Task.FromResult(!lab.HasDevice(tap1)), TimeSpan.FromSeconds(10));
            Assert.True(lab.HasDevice(tap2), $"{tap2} must stay while its vif lives");
            // Removed outright (backend dir gone): the TAP goes too.
            await toolstack.RemoveVifAsync(dom2, 0);
            await AwaitConditionAsync(() => Task.FromResult(!lab.HasDevice(tap2)), TimeSpan.FromSeconds(10));
        }
        finally
        {
            await Sys.Terminate();
            foreach (var name in all)
                TapDevice.Delete(name);
        }
    }
}
