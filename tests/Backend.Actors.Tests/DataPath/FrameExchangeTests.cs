using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.DataPath;

/// <summary>
/// Two simulated guests exchange frames through the whole actor tree over SIMXEN: rings, grant copies,
/// the learning bridge, and back. Nothing may be lost (at most 256 frames in flight per vif) or corrupted,
/// and every request must be answered once.
/// </summary>
public sealed class FrameExchangeTests : TestKit, IAsyncLifetime
{
    private SimBackendFixture _sim = null!;
    private readonly List<IXenStore> _clients = [];

    public FrameExchangeTests() : base(@"akka.loglevel = INFO")
    {
    }

    public async Task InitializeAsync() => _sim = await SimBackendFixture.CreateAsync();

    public async Task DisposeAsync()
    {
        // The actors hold ring mappings and event channels: stop them before the platform goes.
        await Sys.Terminate();
        foreach (var c in _clients)
            await c.DisposeAsync();
        await _sim.DisposeAsync();
    }

    internal sealed class Receiver(int expected) : ISimFrameConsumer
    {
        private readonly bool[] _seen = new bool[expected];
        private int _count;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly List<string> Problems = [];
        public int GsoFrames;
        private readonly Dictionary<ushort, int> _headrooms = [];

        /// <summary>How many of the frames came with each XDP headroom (0: no XDP extra).</summary>
        public Dictionary<ushort, int> Headrooms
        {
            get
            {
                lock (Problems)
                    return new Dictionary<ushort, int>(_headrooms);
            }
        }

        public int Count => Volatile.Read(ref _count);

        public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
        {
            var sequence = CheckedFrames.Verify(frame, out var corruption);
            if (sequence is null)
                return; // the other guest's learning broadcast
            lock (Problems)
            {
                if (corruption is not null)
                    Problems.Add(corruption);
                else if (sequence.Value >= _seen.Length || _seen[sequence.Value])
                    Problems.Add($"frame {sequence} delivered twice or unexpected");
                else
                    _seen[sequence.Value] = true;
                _headrooms[info.XdpHeadroom] = _headrooms.GetValueOrDefault(info.XdpHeadroom) + 1;
            }
            if (info.GsoType != NetifGsoType.None)
                Interlocked.Increment(ref GsoFrames);
            if (Interlocked.Increment(ref _count) == _seen.Length)
                Done.TrySetResult();
        }
    }

    private async Task<SimNetfront> StartGuest(ushort domid, Receiver receiver)
    {
        var client = await XenStoreClient.ConnectAsync(_sim.SocketPath);
        _clients.Add(client);
        var options = new SimNetfrontOptions { Root = _sim.Root, DomId = domid, FeatureGsoTcpV4 = true, FeatureGsoTcpV6 = true };
        return await SimNetfront.StartAsync(options, client, receiver);
    }

    [Fact]
    public async Task Two_guests_exchange_10000_frames_of_1_to_18_slots_with_GSO_extras_losing_and_corrupting_none()
    {
        const int perGuest = 5000;
        var toolstack = new SimToolstack(_sim.XenStore);
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 1, Handle = 0, Mac = "00:16:3e:00:00:01", Mtu = 65521 });
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = 2, Handle = 0, Mac = "00:16:3e:00:00:02", Mtu = 65521 });
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys)), "xenbus");

        var rx1 = new Receiver(perGuest);
        var rx2 = new Receiver(perGuest);
        await using var g1 = await StartGuest(1, rx1);
        await using var g2 = await StartGuest(2, rx2);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await g1.WaitForConnectedAsync(cts.Token);
        await g2.WaitForConnectedAsync(cts.Token);

        // SIMXEN: each guest broadcasts once so that the bridge learns its MAC before traffic starts.
        byte[] mac1 = [0x00, 0x16, 0x3e, 0, 0, 1], mac2 = [0x00, 0x16, 0x3e, 0, 0, 2], broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        await HelloAsync(g1, mac1, g2, mac2, cts.Token);
        await AwaitAssertAsync(() => Assert.Equal(2, _sim.Status.Snapshot().Sum(v => Interlocked.Read(ref v.RxPackets))), TimeSpan.FromSeconds(10));

        var send1 = Send(g1, mac2, mac1, rx2, perGuest, seed: 1, cts.Token);
        var send2 = Send(g2, mac1, mac2, rx1, perGuest, seed: 2, cts.Token);
        await Task.WhenAll(send1, send2);
        await Task.WhenAll(rx1.Done.Task, rx2.Done.Task).WaitAsync(cts.Token);

        Assert.Empty(rx1.Problems);
        Assert.Empty(rx2.Problems);
        Assert.True(rx1.GsoFrames > 0 && rx2.GsoFrames > 0, "GSO frames should arrive with their GSO extra");
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(0, g1.TxOutstanding);
            Assert.Equal(0, g2.TxOutstanding);
        }, TimeSpan.FromSeconds(10));
        Assert.Equal(0, g1.Counters.TxErrors);
        Assert.Equal(0, g2.Counters.TxErrors);
        Assert.Equal(0, g1.Counters.RxErrors);
        Assert.Equal(0, g2.Counters.RxErrors);
        foreach (var v in _sim.Status.Snapshot())
        {
            Assert.Equal(0, Interlocked.Read(ref v.TxErrors));
            Assert.Equal(0, Interlocked.Read(ref v.RxDropped));
        }
    }

    /// <summary>SIMXEN: each guest broadcasts once so that the bridge learns its MAC before traffic starts.</summary>
    internal static async Task HelloAsync(SimNetfront g1, byte[] mac1, SimNetfront g2, byte[] mac2, CancellationToken ct)
    {
        var hello = new byte[60];
        hello.AsSpan(0, 6).Fill(0xff);
        mac1.CopyTo(hello, 6);
        await g1.SendAsync(hello, default, ct);
        mac2.CopyTo(hello, 6);
        await g2.SendAsync(hello, default, ct);
    }

    internal static async Task Send(SimNetfront guest, byte[] destination, byte[] source, Receiver peer, int count, int seed, CancellationToken ct)
    {
        var random = new Random(seed);
        var frame = new byte[65535];
        for (var i = 0; i < count; i++)
        {
            // 1 to 18 data slots: a slot size and a length that together make that many slots.
            var slots = random.Next(1, 19);
            var slotBytes = random.Next(0, 3) switch { 0 => 4096, 1 => 1024, _ => 256 };
            var min = Math.Max(CheckedFrames.HeaderLength + 1, (slots - 1) * slotBytes + 1);
            var length = Math.Min(65535, random.Next(min, slots * slotBytes + 1));
            CheckedFrames.Write(frame.AsSpan(0, length), destination, source, (uint)i);
            var options = new SimTxOptions { MaxSlotBytes = slotBytes };
            if (i % 7 == 3)
                options = options with { GsoType = NetifGsoType.TcpV4, GsoSize = 1448 };
            while (i - peer.Count >= 256)
                await Task.Delay(1, ct);
            await guest.SendAsync(frame.AsMemory(0, length), options, ct);
        }
    }
}
