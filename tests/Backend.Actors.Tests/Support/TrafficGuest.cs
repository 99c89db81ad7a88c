using System.Buffers.Binary;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// One simulated guest of a traffic pair: a <see cref="SimNetfront"/> on its own xenstore connection, what
/// it receives from its peer (<see cref="Receiver"/>), and a sender that keeps at most
/// <see cref="Window"/> frames in flight to the peer (SIMXEN "Frames": the zero-loss condition), counted
/// from the peer's receiver. Frames are <see cref="CheckedFrames"/> of 60 to 9014 bytes in slots of 256 to
/// 4096 bytes, so that multi-slot packets are part of every exchange.
/// </summary>
public sealed class TrafficGuest : IAsyncDisposable
{
    public const int Window = 256;

    private readonly IXenStore _client;
    private readonly Lock _gate = new();
    private TaskCompletionSource? _paused;
    private int _sent;
    private int _disposed;

    private TrafficGuest(SimNetfront netfront, IXenStore client, byte[] mac, byte[] peerMac)
    {
        Netfront = netfront;
        _client = client;
        Mac = mac;
        PeerMac = peerMac;
        Receiver = new TrafficReceiver(peerMac);
        netfront.Consumer = Receiver;
    }

    public SimNetfront Netfront { get; }

    public ushort DomId => Netfront.DomId;

    public byte[] Mac { get; }

    public byte[] PeerMac { get; }

    /// <summary>Frames from the peer.</summary>
    public TrafficReceiver Receiver { get; }

    /// <summary>Set once both guests exist.</summary>
    public TrafficGuest Peer { get; internal set; } = null!;

    /// <summary>Frames put on the TX ring so far; the next one has this sequence number.</summary>
    public int Sent => Volatile.Read(ref _sent);

    public static byte[] MacOf(ushort domid) => [0x00, 0x16, 0x3e, 0x00, (byte)(domid >> 8), (byte)domid];

    public static string MacText(ushort domid) => string.Join(':', MacOf(domid).Select(b => b.ToString("x2")));

    public static async Task<TrafficGuest> StartAsync(SimBackendFixture sim, ushort domid, ushort peer)
    {
        var client = await XenStoreClient.ConnectAsync(sim.SocketPath);
        try
        {
            var options = new SimNetfrontOptions { Root = sim.Root, DomId = domid };
            var netfront = await SimNetfront.StartAsync(options, client);
            return new TrafficGuest(netfront, client, MacOf(domid), MacOf(peer));
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>A broadcast marker frame, so that the bridge learns our MAC (SIMXEN "Frames").</summary>
    public ValueTask SendHelloAsync(CancellationToken ct) =>
        Netfront.SendAsync(Marker([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Mac), default, ct);

    public static byte[] Marker(ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source)
    {
        var frame = new byte[60];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), TrafficReceiver.MarkerEtherType);
        return frame;
    }

    /// <summary>The sender puts no further frame on the ring until <see cref="Resume"/> (those in flight go on).</summary>
    public void Pause()
    {
        lock (_gate)
            _paused ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Resume()
    {
        TaskCompletionSource? paused;
        lock (_gate)
            (paused, _paused) = (_paused, null);
        paused?.TrySetResult();
    }

    /// <summary>Sends the next <paramref name="count"/> frames to the peer.</summary>
    public Task RunAsync(int count, CancellationToken ct) => RunUntilAsync(Sent + count, null, ct);

    /// <summary>
    /// Sends frames to the peer until at least <paramref name="minimum"/> sequence numbers are used and
    /// <paramref name="stop"/> (if any) has completed.
    /// </summary>
    public async Task RunUntilAsync(int minimum, Task? stop, CancellationToken ct)
    {
        var random = new Random(DomId * 7919 + Sent);
        var frame = new byte[9014];
        for (var i = Sent; i < minimum || (stop is not null && !stop.IsCompleted); i++)
        {
            Task? paused;
            lock (_gate)
                paused = _paused?.Task;
            if (paused is not null)
                await paused.WaitAsync(ct);
            // The window counts from the peer's floor: below it a crash may have lost frames for good.
            while (true)
            {
                var peer = Peer.Receiver;
                var floor = (int)peer.Floor;
                if (i - floor - peer.DistinctAtOrAboveFloor < Window)
                    break;
                await Task.Delay(1, ct);
            }
            var slotBytes = random.Next(0, 3) switch { 0 => 4096, 1 => 1024, _ => 256 };
            var length = random.Next(0, 4) == 0 ? random.Next(1515, frame.Length + 1) : random.Next(CheckedFrames.HeaderLength + 30, 1515);
            length = Math.Min(length, 18 * slotBytes); // a valid packet has at most 19 slots; keep well inside
            CheckedFrames.Write(frame.AsSpan(0, length), PeerMac, Mac, (uint)i);
            await Netfront.SendAsync(frame.AsMemory(0, length), new SimTxOptions { MaxSlotBytes = slotBytes }, ct);
            Volatile.Write(ref _sent, i + 1);
        }
    }

    /// <summary>Lets go of the netfront without closing it (as a guest that dies), then of its xenstore connection. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await Netfront.DisposeAsync();
        await _client.DisposeAsync();
    }
}
