using System.Buffers.Binary;
using Backend.Host.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Netback;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// SIMXEN "What the daemon promises": with xenstore run on its own (as on real Xen), the daemon can be
/// killed or stopped and started again; it re-attaches to every Connected vif and the guests never
/// reconnect. Guests live in this test process; xenstored and the daemon are separate processes. With 2
/// queues (issue 15) every queue is re-attached: both TX queues are read and both RX queues filled after
/// the restart (two flows, each on the queue the flow hash gives it).
/// </summary>
public sealed class DaemonRestartTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    private sealed class Counter : ISimFrameConsumer
    {
        private int _frames;
        public int Frames => Volatile.Read(ref _frames);
        public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info) => Interlocked.Increment(ref _frames);
    }

    [Theory]
    [InlineData(9, "SIGKILL", 1)]
    [InlineData(15, "SIGTERM", 1)]
    [InlineData(9, "SIGKILL", 2)]
    [InlineData(15, "SIGTERM", 2)]
    public async Task A_restarted_daemon_reattaches_and_traffic_resumes_without_the_guests_reconnecting(int signal, string name, int queues)
    {
        _ = name;
        using var root = new SimTestRoot();
        await using var xenstored = DaemonProcess.Start("xenstored", "--sim-root", root.Path);
        await xenstored.WaitForLineAsync("READY", Start);
        var environment = new Dictionary<string, string> { ["XNB_MAXQUEUES"] = $"{queues}" };
        var daemon = DaemonProcess.Start(environment, "--sim-root", root.Path);
        try
        {
            await daemon.WaitForLineAsync("READY", Start);
            var socket = Path.Combine(root.Path, "xenstored.sock");
            await using var xs = await XenStoreClient.ConnectAsync(socket);
            var toolstack = new SimToolstack(xs);
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 21, Handle = 0, Mac = "00:16:3e:00:00:21" });
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 22, Handle = 0, Mac = "00:16:3e:00:00:22" });

            var simRoot = new SimRoot(root.Path);
            await using var xs1 = await XenStoreClient.ConnectAsync(socket);
            await using var xs2 = await XenStoreClient.ConnectAsync(socket);
            var rx1 = new Counter();
            var rx2 = new Counter();
            await using var g1 = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = simRoot, DomId = 21, Queues = queues }, xs1, rx1);
            await using var g2 = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = simRoot, DomId = 22, Queues = queues }, xs2, rx2);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await g1.WaitForConnectedAsync(cts.Token);
            await g2.WaitForConnectedAsync(cts.Token);
            Assert.Equal(queues, g1.QueueCount);

            // Any change of the backend's state from here on would mean the guest had to reconnect.
            var backendStateChanges = 0;
            await using var watch = await xs.WatchAsync("/local/domain/0/backend/vif/21/0/state", "t", _ => Interlocked.Increment(ref backendStateChanges));

            // Frame i goes on TX queue i mod queues, in a flow the flow hash puts on RX queue i mod queues.
            var toG2 = FlowFrames(dst: 0x22, src: 0x21, queues);
            var toG1 = FlowFrames(dst: 0x21, src: 0x22, queues);
            await g1.SendAsync(Broadcast(0x21), default, cts.Token);
            await g2.SendAsync(Broadcast(0x22), default, cts.Token);
            await Until(() => rx1.Frames >= 1 && rx2.Frames >= 1, cts.Token);
            for (var i = 0; i < 20; i++)
            {
                await g1.SendAsync(i % queues, toG2[i % queues], default, cts.Token);
                await g2.SendAsync(i % queues, toG1[i % queues], default, cts.Token);
            }
            await Until(() => rx2.Frames >= 21 && rx1.Frames >= 21, cts.Token);
            var changesBefore = Volatile.Read(ref backendStateChanges);
            var sentBefore = Enumerable.Range(0, queues).Select(q => g1.QueueCounters(q).Sent).ToArray();
            var receivedBefore = Enumerable.Range(0, queues).Select(q => g2.QueueCounters(q).Received).ToArray();

            daemon.Signal(signal);
            await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20));
            await daemon.DisposeAsync();

            // Frames sent while no backend runs stay on the ring; the new daemon picks them up.
            for (var i = 0; i < 10; i++)
                await g1.SendAsync(i % queues, toG2[i % queues], default, cts.Token);

            daemon = DaemonProcess.Start(environment, "--sim-root", root.Path);
            await daemon.WaitForLineAsync("READY", Start);
            await Until(() => rx2.Frames >= 31, cts.Token);
            for (var i = 0; i < 20; i++)
                await g2.SendAsync(i % queues, toG1[i % queues], default, cts.Token);
            await Until(() => rx1.Frames >= 41, cts.Token);
            for (var q = 0; q < queues; q++)
            {
                Assert.Equal(sentBefore[q] + 10 / queues, g1.QueueCounters(q).Sent);
                Assert.Equal(receivedBefore[q] + 10 / queues, g2.QueueCounters(q).Received);
            }

            Assert.Equal(XenbusState.Connected, g1.State);
            Assert.Equal(XenbusState.Connected, g2.State);
            Assert.Equal(changesBefore, Volatile.Read(ref backendStateChanges));
            Assert.Equal("4", await xs.ReadAsync("/local/domain/0/backend/vif/21/0/state"));
        }
        finally
        {
            await daemon.DisposeAsync();
        }
    }

    private static async Task Until(Func<bool> condition, CancellationToken ct)
    {
        while (!condition())
            await Task.Delay(10, ct);
    }

    /// <summary>
    /// An IPv4/UDP frame per queue, each of a flow (its source port) that <see cref="FlowHashQueueSelector"/>
    /// puts on that queue of <paramref name="queues"/>.
    /// </summary>
    private static byte[][] FlowFrames(byte dst, byte src, int queues)
    {
        var frames = new byte[queues][];
        for (ushort port = 20000; frames.Any(f => f is null); port++)
        {
            var frame = Frame(dst, src);
            frame[12] = 0x08;
            frame[13] = 0x00;
            var ip = frame.AsSpan(14);
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - 14));
            ip[8] = 64;
            ip[9] = 17;
            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A000000u | src);
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0A000000u | dst);
            BinaryPrimitives.WriteUInt16BigEndian(ip[20..], port);
            BinaryPrimitives.WriteUInt16BigEndian(ip[22..], 5001);
            BinaryPrimitives.WriteUInt16BigEndian(ip[24..], (ushort)(frame.Length - 34));
            frames[FlowHashQueueSelector.Instance.Select(frame, queues)] ??= frame;
        }
        return frames;
    }

    private static byte[] Frame(byte dst, byte src)
    {
        var frame = new byte[128];
        byte[] prefix = [0x00, 0x16, 0x3e, 0x00, 0x00];
        prefix.CopyTo(frame, 0);
        frame[5] = dst;
        prefix.CopyTo(frame, 6);
        frame[11] = src;
        frame[12] = 0x88;
        frame[13] = 0xB5;
        return frame;
    }

    private static byte[] Broadcast(byte src)
    {
        var frame = Frame(0, src);
        frame.AsSpan(0, 6).Fill(0xff);
        return frame;
    }
}
