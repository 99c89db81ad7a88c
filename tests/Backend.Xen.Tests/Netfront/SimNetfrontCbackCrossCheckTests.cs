using System.Diagnostics;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Xunit.Abstractions;

namespace Backend.Xen.Tests.Netfront;

/// <summary>
/// Our netfront against the C reference netback (<c>simxen-c/cback</c>): both follow SIMXEN.md, so
/// anything that goes wrong here is a bug on one side or a gap in the contract.
/// </summary>
public sealed class SimNetfrontCbackCrossCheckTests(ITestOutputHelper output)
{
    private const int Frames = 1000;
    private const int SmallFrames = 2000;
    private const int BurstFrames = 200;
    private const int Window = 256;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task Two_netfronts_exchange_1000_frames_each_way_through_cback_losslessly_then_close()
    {
        var build = SimxenCReference.Build();
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        CbackProcess? cback = null;
        try
        {
            cback = await CbackProcess.StartAsync(build, sim.Path, TimeSpan.FromSeconds(20));
            var store = await sim.ConnectAsync();
            var toolstack = new SimToolstack(store);
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 1, Handle = 0, Mac = "00:16:3e:00:00:01", Bridge = "xenbr0", Mtu = 65521 });
            await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 2, Handle = 0, Mac = "00:16:3e:00:00:02", Bridge = "xenbr0", Mtu = 65521 });
            var atOne = new CheckingConsumer(Frames + SmallFrames + BurstFrames);
            var atTwo = new CheckingConsumer(Frames + SmallFrames + BurstFrames);
            // Guest 1 asks for all a Linux netback offers beyond cback's features (queues, a ctrl ring, multicast
            // filtering): against a backend that publishes none of them it must fall back to what cback serves.
            await using var one = await SimNetfront.StartAsync(
                new SimNetfrontOptions { Root = sim.Root, DomId = 1, Queues = 4, CtrlRing = true, RequestMulticastControl = true }, await sim.ConnectAsync(), atOne);
            await using var two = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = sim.Root, DomId = 2 }, await sim.ConnectAsync(), atTwo);
            using var cts = new CancellationTokenSource(Timeout);
            try
            {
                await one.WaitForConnectedAsync(cts.Token);
                await two.WaitForConnectedAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"not connected: guest 1 {one.State}/{one.BackendState} ({one.Failure}), guest 2 {two.State}/{two.BackendState} ({two.Failure})\n{cback.Log}");
            }
            Assert.True(one.SgNegotiated && two.SgNegotiated, "cback offers feature-sg and we asked for it");
            Assert.Equal((1, false), (one.QueueCount, one.HasCtrlRing));
            Assert.Null(await store.ReadAsync($"{SimToolstack.FrontendPath(1, 0)}/multi-queue-num-queues"));
            Assert.Null(await store.ReadAsync($"{SimToolstack.FrontendPath(1, 0)}/request-multicast-control"));

            // Bridge learning: each guest broadcasts once, and the other sees it.
            await BroadcastAsync(one, cts.Token);
            await BroadcastAsync(two, cts.Token);
            await WaitForAsync(() => atTwo.Broadcasts >= 1, atTwo, cts.Token, "guest 2 never saw guest 1's broadcast\n" + cback.Log);
            await WaitForAsync(() => atOne.Broadcasts >= 1, atOne, cts.Token, "guest 1 never saw guest 2's broadcast\n" + cback.Log);

            var stopwatch = Stopwatch.StartNew();
            var oneToTwo = StreamAsync(one, two.Mac, atTwo, 0, Frames, MixedSizes(1), cts.Token);
            var twoToOne = StreamAsync(two, one.Mac, atOne, 0, Frames, MixedSizes(2), cts.Token);
            int maxSlots;
            try
            {
                maxSlots = Math.Max(await oneToTwo, await twoToOne);
                await WaitForAsync(() => atTwo.Good + atTwo.Damaged >= Frames, atTwo, cts.Token, "guest 2 is missing frames");
                await WaitForAsync(() => atOne.Good + atOne.Damaged >= Frames, atOne, cts.Token, "guest 1 is missing frames");
            }
            catch (Exception e) when (e is OperationCanceledException or Xunit.Sdk.XunitException)
            {
                Assert.Fail($"{e.Message}: guest 2 got {atTwo.Good} good {atTwo.Damaged} damaged, guest 1 got {atOne.Good} good {atOne.Damaged} damaged; counters {one.Counters} / {two.Counters}\n{cback.Log}");
                throw;
            }
            stopwatch.Stop();
            output.WriteLine($"{2 * Frames} frames (up to {maxSlots} slots) in {stopwatch.Elapsed.TotalMilliseconds:F0} ms: {2 * Frames / stopwatch.Elapsed.TotalSeconds:F0} frames/s (Debug build, informational)");
            output.WriteLine($"guest 1 {one.Counters}, event channels {one.EventChannelCounters}");
            output.WriteLine($"guest 2 {two.Counters}, event channels {two.EventChannelCounters}");

            Assert.Equal(18, maxSlots);
            Assert.Equal(0, atOne.Damaged);
            Assert.Equal(0, atTwo.Damaged);
            Assert.Empty(atOne.Anomalies(Frames));
            Assert.Empty(atTwo.Anomalies(Frames));
            Assert.Equal(0, one.Counters.TxErrors);
            Assert.Equal(0, two.Counters.TxErrors);
            Assert.Equal(0, one.Counters.RxErrors);
            Assert.Equal(0, two.Counters.RxErrors);

            // Informational: small frames, the per-frame cost (same window, same checks).
            stopwatch.Restart();
            var small = StreamAsync(one, two.Mac, atTwo, Frames, SmallFrames, _ => (64, 4096), cts.Token);
            var smallBack = StreamAsync(two, one.Mac, atOne, Frames, SmallFrames, _ => (64, 4096), cts.Token);
            await small;
            await smallBack;
            await WaitForAsync(() => atTwo.Good + atTwo.Damaged >= Frames + SmallFrames, atTwo, cts.Token, "guest 2 is missing small frames\n" + cback.Log);
            await WaitForAsync(() => atOne.Good + atOne.Damaged >= Frames + SmallFrames, atOne, cts.Token, "guest 1 is missing small frames\n" + cback.Log);
            stopwatch.Stop();
            output.WriteLine($"{2 * SmallFrames} frames of 64 bytes in {stopwatch.Elapsed.TotalMilliseconds:F0} ms: {2 * SmallFrames / stopwatch.Elapsed.TotalSeconds:F0} frames/s (Debug build, informational)");
            Assert.Empty(atOne.Anomalies(Frames + SmallFrames));
            Assert.Empty(atTwo.Anomalies(Frames + SmallFrames));
            Assert.Equal(0, atOne.Damaged + atTwo.Damaged);

            // A burst sent with More (xmit_more) until its last frame: req_prod moves by up to a ring at once.
            await StreamAsync(one, two.Mac, atTwo, Frames + SmallFrames, BurstFrames, _ => (64, 4096), cts.Token, burst: true);
            await WaitForAsync(() => atTwo.Good + atTwo.Damaged >= Frames + SmallFrames + BurstFrames, atTwo, cts.Token, "guest 2 is missing burst frames\n" + cback.Log);
            Assert.Empty(atTwo.Anomalies(Frames + SmallFrames + BurstFrames));
            Assert.Equal(0, atTwo.Damaged);

            // Closing guest 1: cback follows it to Closed.
            await one.CloseAsync(cts.Token);
            await WatchedValue.WaitForAsync(store, SimToolstack.BackendPath(0, 1, 0) + "/state", "6", TimeSpan.FromSeconds(10));
            Assert.Equal("6", await store.ReadAsync(SimToolstack.FrontendPath(1, 0) + "/state"));
            Assert.Equal("4", await store.ReadAsync(SimToolstack.BackendPath(0, 2, 0) + "/state"));
            Assert.False(cback.HasExited, "cback died:\n" + cback.Log);
            output.WriteLine(cback.Log);
        }
        finally
        {
            if (cback is not null)
                await cback.DisposeAsync();
        }
    }

    private static async Task BroadcastAsync(SimNetfront front, CancellationToken cancellationToken)
    {
        var frame = new byte[60];
        frame.AsSpan(0, 6).Fill(0xff);
        front.Mac.Span.CopyTo(frame.AsSpan(6));
        frame[12] = 0x88;
        frame[13] = 0xB6;
        await front.SendAsync(frame, default, cancellationToken);
    }

    /// <summary>Frame i: 1 + i % 18 slots, a random size that fits them (the 14-byte first slot rule kept).</summary>
    private static Func<int, (int Size, int SlotBytes)> MixedSizes(int seed)
    {
        var random = new Random(seed);
        return i =>
        {
            var slots = 1 + (i % 18);
            var size = random.Next(Math.Max(64, 16 * slots), Math.Min(65535, slots * 4096) + 1);
            return (size, (size + slots - 1) / slots);
        };
    }

    /// <summary>
    /// Sends checked frames with sequence numbers from <paramref name="first"/>, at most <see cref="Window"/>
    /// not yet received; returns the most slots a frame took. A <paramref name="burst"/> sends every frame
    /// but the last with More, and fits in one window (the frames held back are not yet on the ring).
    /// </summary>
    private static async Task<int> StreamAsync(SimNetfront from, ReadOnlyMemory<byte> to, CheckingConsumer receiver, int first, int count,
        Func<int, (int Size, int SlotBytes)> shape, CancellationToken cancellationToken, bool burst = false)
    {
        await Task.Yield();
        var buffer = new byte[65535];
        var maxSlots = 0;
        for (var i = first; i < first + count; i++)
        {
            var (size, slotBytes) = shape(i);
            maxSlots = Math.Max(maxSlots, (size + slotBytes - 1) / slotBytes);
            var frame = buffer.AsMemory(0, size);
            CheckedFrames.Write(frame.Span, to.Span, from.Mac.Span, (uint)i);
            while (i - (receiver.Good + receiver.Damaged) >= Window)
                await receiver.WaitAsync(cancellationToken);
            await from.SendAsync(frame, new SimTxOptions { MaxSlotBytes = slotBytes, More = burst && i + 1 < first + count }, cancellationToken);
        }
        return maxSlots;
    }

    private static async Task WaitForAsync(Func<bool> done, CheckingConsumer consumer, CancellationToken cancellationToken, string what)
    {
        try
        {
            while (!done())
                await consumer.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail(what);
        }
    }
}
