using Backend.Actors.Uplink;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Native;

namespace Backend.Actors.Tests.Uplink;

/// <summary>The uplink's TAP as <see cref="UplinkDevice.Open"/> leaves it (root and /dev/net/tun needed).</summary>
public sealed class UplinkDeviceTests
{
    [SkippableFact]
    public void An_uplink_TAP_is_persistent_marked_up_and_a_port_of_the_Linux_bridge_it_names()
    {
        HostNetworkLab.RequirePrerequisites();
        var tapName = HostNetworkLab.RandomName("xnbu");
        var bridge = HostNetworkLab.RandomName("xnbb");
        try
        {
            // A bridge of the test's own, left down and without addresses: nothing reaches it from outside.
            HostNetworkLab.Ip("link", "add", bridge, "type", "bridge");
            using (var tap = UplinkDevice.Open(new UplinkSpec(tapName, "lan", bridge)))
            {
                Assert.Equal(bridge, tap.Master);
                Assert.True(tap.IsUp);
                Assert.Equal("xnb:uplink lan", tap.ReadAlias());
            }
            Assert.True(Directory.Exists($"/sys/class/net/{tapName}"), "the uplink's TAP is persistent");
            // Opened again (a restarted daemon): already a port of that bridge is no error.
            using (var again = UplinkDevice.Open(new UplinkSpec(tapName, "lan", bridge)))
                Assert.Equal(bridge, again.Master);

            var e = Assert.Throws<LinuxDeviceException>(() => UplinkDevice.Open(new UplinkSpec(tapName, "lan", "lo")));
            Assert.Contains("SIOCBRADDIF", e.Message);
        }
        finally
        {
            TapDevice.Delete(tapName);
            HostNetworkLab.TryRun("ip", ["link", "del", bridge], out _);
        }
    }
}
