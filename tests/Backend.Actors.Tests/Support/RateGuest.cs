using System.Buffers.Binary;
using System.Diagnostics;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// A simulated guest for measuring throughput: a <see cref="SimNetfront"/> on its own xenstore connection
/// that counts the bytes of every frame it receives (<see cref="ISimFrameConsumer"/>), and sends fixed-size
/// frames to one peer at an offered load (<see cref="OfferAsync"/>), waiting for room on its TX ring when
/// it is full, so that a vif whose transmit is held back is always backlogged.
/// </summary>
public sealed class RateGuest : ISimFrameConsumer, IAsyncDisposable
{
    /// <summary>A full frame of a 1500-byte MTU.</summary>
    public const int FrameLength = 1514;

    private const ushort EtherType = 0x88b5; // IEEE local experimental
    private readonly IXenStore _client;
    private long _bytes;
    private long _frames;
    private int _disposed;

    private RateGuest(SimNetfront netfront, IXenStore client, ushort domid)
    {
        Netfront = netfront;
        _client = client;
        DomId = domid;
        netfront.Consumer = this;
    }

    public SimNetfront Netfront { get; }

    public ushort DomId { get; }

    /// <summary>Bytes of the frames received (Ethernet frames, as the credit counts them).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public long Frames => Interlocked.Read(ref _frames);

    /// <summary>Creates the vif as the toolstack does (on <paramref name="bridge"/>, with <paramref name="rate"/>, served by <paramref name="backend"/>).</summary>
    public static Task CreateVifAsync(SimBackendFixture sim, ushort domid, string bridge, SimVifRate? rate = null, ushort backend = 0) =>
        new SimToolstack(sim.XenStore).CreateVifAsync(new SimVifSpec
        {
            GuestDomId = domid, Handle = 0, Mac = TrafficGuest.MacText(domid), Bridge = bridge, Rate = rate, BackendDomId = backend,
        });

    /// <summary>
    /// Creates the vif (<see cref="CreateVifAsync"/>) and starts the netfront, or only starts the netfront
    /// of a vif created already when <paramref name="bridge"/> is null.
    /// </summary>
    public static async Task<RateGuest> StartAsync(SimBackendFixture sim, ushort domid, string? bridge, SimVifRate? rate = null,
        ushort backend = 0, SimNetfrontOptions? options = null)
    {
        if (bridge is not null)
            await CreateVifAsync(sim, domid, bridge, rate, backend);
        var client = await XenStoreClient.ConnectAsync(sim.SocketPath);
        try
        {
            var netfront = await SimNetfront.StartAsync((options ?? new SimNetfrontOptions { Root = sim.Root, DomId = domid }) with { Root = sim.Root, DomId = domid }, client);
            return new RateGuest(netfront, client, domid);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
    {
        if (frame.Length < 14 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherType)
            return; // not ours (a broadcast hello is counted by the peer's bridge learning only)
        Interlocked.Add(ref _bytes, frame.Length);
        Interlocked.Increment(ref _frames);
    }

    /// <summary>A broadcast, so that the bridge learns our MAC (SIMXEN "Frames").</summary>
    public ValueTask SendHelloAsync(CancellationToken ct)
    {
        var frame = new byte[60];
        frame.AsSpan(0, 6).Fill(0xff);
        TrafficGuest.MacOf(DomId).CopyTo(frame, 6);
        return Netfront.SendAsync(frame, default, ct);
    }

    /// <summary>Puts <paramref name="count"/> <see cref="FrameLength"/>-byte frames for <paramref name="peer"/> on the TX ring, waiting for room.</summary>
    public async Task SendAsync(ushort peer, int count, CancellationToken ct)
    {
        var frame = Frame(peer);
        for (var i = 0; i < count; i++)
            await Netfront.SendAsync(frame, default, ct);
    }

    private byte[] Frame(ushort peer)
    {
        var frame = new byte[FrameLength];
        TrafficGuest.MacOf(peer).CopyTo(frame, 0);
        TrafficGuest.MacOf(DomId).CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherType);
        return frame;
    }

    /// <summary>
    /// Sends <see cref="FrameLength"/>-byte frames to <paramref name="peer"/> at <paramref name="bytesPerSecond"/>
    /// until <paramref name="ct"/> is cancelled; a sender held back catches up as soon as it may, so it is
    /// backlogged whenever the backend takes less than the offered load.
    /// </summary>
    public async Task OfferAsync(ushort peer, long bytesPerSecond, CancellationToken ct)
    {
        var frame = Frame(peer);
        var clock = Stopwatch.StartNew();
        long sent = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var due = (long)(clock.Elapsed.TotalSeconds * bytesPerSecond);
                while (sent < due && !ct.IsCancellationRequested)
                {
                    await Netfront.SendAsync(frame, default, ct);
                    sent += frame.Length;
                }
                await Task.Delay(2, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Lets go of the netfront without closing it, then of its xenstore connection. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await Netfront.DisposeAsync();
        await _client.DisposeAsync();
    }
}
