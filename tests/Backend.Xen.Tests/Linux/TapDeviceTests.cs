using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Tests.Linux;

/// <summary>
/// Real TAP devices (needs root and /dev/net/tun). Each test makes its own <c>xnbt&lt;random&gt;</c>
/// interface and deletes it after (<see cref="WithTapName(Func{string, Task})"/>); the only traffic is
/// between the test and the kernel. The class runs alone (<see cref="TapCollection"/>): see there why.
/// </summary>
[Collection(TapCollection.Name)]
public sealed class TapDeviceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private const int IFF_PERSIST = 0x800;
    private const int EIO = 5;

    private static string NewName() => "xnbt" + Random.Shared.Next().ToString("x8");

    /// <summary>
    /// Runs <paramref name="test"/> with a fresh interface name, then deletes the TAP of that name if the
    /// test left one. A delete that fails after the test failed is reported with the test's failure,
    /// never instead of it (a <c>finally</c> that throws replaces the exception in flight).
    /// </summary>
    private static async Task WithTapName(Func<string, Task> test)
    {
        var name = NewName();
        try
        {
            await test(name);
        }
        catch (Exception failure)
        {
            try
            {
                TapDevice.Delete(name);
            }
            catch (Exception cleanup)
            {
                throw new AggregateException($"the test failed, then deleting {name} failed too", failure, cleanup);
            }
            throw;
        }
        TapDevice.Delete(name);
    }

    private static void WithTapName(Action<string> test) =>
        WithTapName(name =>
        {
            test(name);
            return Task.CompletedTask;
        }).GetAwaiter().GetResult();

    private static void RequireTun() =>
        Skip.IfNot(Path.Exists(TunIoctl.DevicePath) && Environment.UserName == "root", "needs root and /dev/net/tun");

    private static string Sysfs(string name, string file = "") => Path.Combine("/sys/class/net", name, file);

    private static long Counter(string name, string counter) =>
        long.Parse(File.ReadAllText(Sysfs(name, Path.Combine("statistics", counter))).Trim());

    private static int TunFlags(string name) =>
        Convert.ToInt32(File.ReadAllText(Sysfs(name, "tun_flags")).Trim(), 16);

    /// <summary>A broadcast frame from a locally administered MAC with an unused EtherType.</summary>
    private static byte[] BroadcastFrame()
    {
        var frame = new byte[60];
        frame.AsSpan(0, 6).Fill(0xff);
        byte[] source = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
        source.CopyTo(frame, 6);
        frame[12] = 0x88;
        frame[13] = 0xb5;
        return frame;
    }

    [SkippableFact]
    public void A_persistent_tap_outlives_its_descriptor_reopens_by_name_and_is_gone_once_deleted()
    {
        RequireTun();
        WithTapName(name =>
        {
            using (var tap = TapDevice.Open(name))
            {
                Assert.Equal(name, tap.Name);
                Assert.True(Directory.Exists(Sysfs(name)), $"{name} is not in /sys/class/net");
                var flags = TunFlags(name);
                Assert.Equal(0x0002 | 0x1000 | 0x4000, flags & (0x0002 | 0x1000 | 0x4000));
                tap.SetPersistent(true);
                Assert.Equal(IFF_PERSIST, TunFlags(name) & IFF_PERSIST);
            }
            Assert.True(Directory.Exists(Sysfs(name)), $"persistent {name} vanished when its descriptor closed");

            using (var tap = TapDevice.Open(name))
            {
                tap.SetOffload(TunIoctl.TUN_F_CSUM | TunIoctl.TUN_F_TSO4 | TunIoctl.TUN_F_TSO6);
                // The kernel checks the flags, so a bit it does not know proves the call reached it.
                var e = Assert.Throws<LinuxDeviceException>(() => tap.SetOffload(0x4000_0000));
                Assert.Contains("TUNSETOFFLOAD", e.Message);

                Assert.False(TapDevice.IsOurs(name));
                tap.SetAlias("vif 5.0");
                Assert.Equal("xnb:vif 5.0", tap.ReadAlias());
                Assert.True(TapDevice.IsOurs(name));
                tap.Delete();
            }
            Assert.False(Directory.Exists(Sysfs(name)), $"{name} is still there after Delete");
        });
    }

    [SkippableFact]
    public void Deleting_by_name_removes_a_persistent_tap_and_a_missing_one_is_no_error()
    {
        RequireTun();
        WithTapName(name =>
        {
            using (var tap = TapDevice.Open(name))
                tap.SetPersistent(true);
            TapDevice.Delete(name);
            Assert.False(Directory.Exists(Sysfs(name)));
            TapDevice.Delete(name);
        });
    }

    [SkippableFact]
    public void A_written_frame_is_received_by_the_interface_and_a_bad_header_is_an_errno_not_an_exception()
    {
        RequireTun();
        WithTapName(name =>
        {
            using var tap = TapDevice.Open(name);
            var frame = BroadcastFrame();
            Assert.Equal(EIO, tap.Write(default, frame));

            tap.SetUp(true);
            Assert.True(tap.IsUp);
            var before = Counter(name, "rx_packets");
            Assert.Equal(0, tap.Write(default, frame));
            Assert.Equal(before + 1, Counter(name, "rx_packets"));

            var tooLong = new VirtioNetHeader
            {
                GsoType = VirtioNetHeader.GsoTcpV4,
                HdrLen = (ushort)(frame.Length + 1),
                GsoSize = 1000,
            };
            Assert.NotEqual(0, tap.Write(tooLong, frame));

            tap.SetUp(false);
            Assert.False(tap.IsUp);
        });
    }

    [SkippableFact]
    public void Carrier_off_takes_the_link_down_for_the_host_and_on_brings_it_back()
    {
        RequireTun();
        var name = NewName();
        try
        {
            using var tap = TapDevice.Open(name);
            tap.SetUp(true);
            // An attached descriptor turns the carrier on: that is where a vif's TAP starts.
            Assert.True(tap.Carrier, $"{name}: carrier should be on with the descriptor attached");

            tap.SetCarrier(false);
            Assert.False(tap.Carrier, $"{name}: carrier still on after TUNSETCARRIER 0");

            tap.SetCarrier(true);
            Assert.True(tap.Carrier, $"{name}: carrier still off after TUNSETCARRIER 1");

            tap.SetUp(false);
            Assert.Null(tap.Carrier);
        }
        finally
        {
            TapDevice.Delete(name);
        }
    }

    [SkippableFact]
    public async Task A_frame_the_kernel_sends_arrives_through_the_poller_with_its_header()
    {
        RequireTun();
        Skip.IfNot(Directory.Exists("/proc/sys/net/ipv6"), "needs IPv6: the kernel's own solicitations are the traffic");
        await WithTapName(async name =>
        {
            using var tap = TapDevice.Open(name);
            var handler = new FirstFrame();
            var faults = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
            using (var poller = new TapPoller((_, e) => faults.Enqueue(e)))
            {
                poller.Add(tap, handler);
                // Up, the interface gets an IPv6 link-local address and sends MLD reports and solicitations.
                tap.SetUp(true);
                var (header, frame) = await handler.Frame.Task.WaitAsync(Patience);

                Assert.True(frame.Length >= 14 + 40, $"a {frame.Length}-byte frame is too short for IPv6");
                Assert.Equal(0x86dd, (frame[12] << 8) | frame[13]);
                Assert.Equal(VirtioNetHeader.GsoNone, header.GsoType);
                Assert.True(Counter(name, "tx_packets") >= 1);
                poller.Remove(tap);
            }
            Assert.Empty(faults);
        });
    }

    [Theory]
    [InlineData("")]
    [InlineData("name-of-sixteen!")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("..")]
    public void Names_Linux_would_refuse_are_refused_before_any_call(string name)
    {
        Assert.ThrowsAny<ArgumentException>(() => TapDevice.Open(name, "/nonexistent/tun"));
    }

    [Fact]
    public void Vif_names_follow_the_hotplug_scripts()
    {
        Assert.Equal("vif5.0", TapDevice.VifName(5, 0));
        Assert.Equal("vif32752.255", TapDevice.VifName(32752, 255));
    }

    private sealed class FirstFrame : ITapFrameHandler
    {
        public TaskCompletionSource<(VirtioNetHeader, byte[])> Frame { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnFrame(TapDevice tap, in VirtioNetHeader header, ReadOnlySpan<byte> frame) =>
            Frame.TrySetResult((header, frame.ToArray()));
    }
}
