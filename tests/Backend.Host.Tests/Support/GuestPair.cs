using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Tests.Support;

/// <summary>
/// Two SIMXEN guests on one host's bridge that send each other frames in rounds: ten each way, then wait
/// until all have arrived, so that no RX queue can overflow and any frame missing at the end was lost.
/// </summary>
public sealed class GuestPair : IAsyncDisposable
{
    private readonly Counter _rx1 = new();
    private readonly Counter _rx2 = new();
    private readonly List<IAsyncDisposable> _owned = [];
    private SimNetfront _g1 = null!;
    private SimNetfront _g2 = null!;
    private long _sent1;
    private long _sent2;
    private CancellationTokenSource? _stop;
    private Task? _traffic;

    private GuestPair(ushort domId1, ushort domId2)
    {
        DomId1 = domId1;
        DomId2 = domId2;
    }

    public ushort DomId1 { get; }

    public ushort DomId2 { get; }

    public SimNetfront First => _g1;

    public SimNetfront Second => _g2;

    /// <summary>Frames sent by the first guest / the second, and received by the second / the first.</summary>
    public (long Sent, long Received) OneToTwo => (Interlocked.Read(ref _sent1), _rx2.Frames);

    public (long Sent, long Received) TwoToOne => (Interlocked.Read(ref _sent2), _rx1.Frames);

    /// <summary>Creates both vifs with the toolstack and connects the guests.</summary>
    public static async Task<GuestPair> StartAsync(SimTestRoot root, ushort domId1, ushort domId2, CancellationToken cancellationToken)
    {
        var pair = new GuestPair(domId1, domId2);
        var xs = await root.ConnectAsync();
        var toolstack = new SimToolstack(xs);
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = domId1, Handle = 0, Mac = Mac(domId1) });
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = domId2, Handle = 0, Mac = Mac(domId2) });
        var xs1 = await root.ConnectAsync();
        var xs2 = await root.ConnectAsync();
        pair._g1 = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = root.Root, DomId = domId1 }, xs1, pair._rx1, cancellationToken);
        pair._owned.Add(pair._g1);
        pair._g2 = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = root.Root, DomId = domId2 }, xs2, pair._rx2, cancellationToken);
        pair._owned.Add(pair._g2);
        await pair._g1.WaitForConnectedAsync(cancellationToken);
        await pair._g2.WaitForConnectedAsync(cancellationToken);
        return pair;
    }

    /// <summary>Starts rounds of traffic until <see cref="StopAsync"/>; a round whose frames do not all arrive within 10 s fails it.</summary>
    public void StartTraffic()
    {
        _stop = new CancellationTokenSource();
        var stop = _stop.Token;
        _traffic = Task.Run(async () =>
        {
            var toTwo = Frame(DomId2, DomId1);
            var toOne = Frame(DomId1, DomId2);
            while (!stop.IsCancellationRequested)
            {
                for (var i = 0; i < 10; i++)
                {
                    await _g1.SendAsync(toTwo);
                    Interlocked.Increment(ref _sent1);
                    await _g2.SendAsync(toOne);
                    Interlocked.Increment(ref _sent2);
                }
                using var round = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                while (_rx2.Frames < Interlocked.Read(ref _sent1) || _rx1.Frames < Interlocked.Read(ref _sent2))
                {
                    if (round.IsCancellationRequested)
                        throw new TimeoutException($"guests {DomId1}/{DomId2}: a round did not arrive within 10 s: sent {OneToTwo.Sent}/{TwoToOne.Sent}, received {OneToTwo.Received}/{TwoToOne.Received}");
                    await Task.Delay(5, CancellationToken.None);
                }
                try
                {
                    await Task.Delay(50, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
    }

    /// <summary>Stops the rounds and waits for the last one (its failure, if any, is thrown here).</summary>
    public async Task StopAsync()
    {
        _stop!.Cancel();
        await _traffic!;
    }

    private static string Mac(ushort domId) => $"00:16:3e:00:{domId >> 8:x2}:{domId & 0xff:x2}";

    private static byte[] Frame(ushort dst, ushort src)
    {
        var frame = new byte[128];
        byte[] prefix = [0x00, 0x16, 0x3e, 0x00];
        prefix.CopyTo(frame, 0);
        frame[4] = (byte)(dst >> 8);
        frame[5] = (byte)dst;
        prefix.CopyTo(frame, 6);
        frame[10] = (byte)(src >> 8);
        frame[11] = (byte)src;
        frame[12] = 0x88;
        frame[13] = 0xB5;
        return frame;
    }

    public async ValueTask DisposeAsync()
    {
        _stop?.Cancel();
        if (_traffic is not null)
            await Task.WhenAny(_traffic);
        for (var i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        _stop?.Dispose();
    }

    private sealed class Counter : ISimFrameConsumer
    {
        private int _frames;

        public long Frames => Volatile.Read(ref _frames);

        public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info) => Interlocked.Increment(ref _frames);
    }
}
