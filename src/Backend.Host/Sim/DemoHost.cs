using System.Buffers.Binary;
using System.Globalization;
using Backend.Host.Hosting;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;
using Serilog;

namespace Backend.Host.Sim;

/// <summary>
/// The embedded demo's guests: the toolstack creates a vif for each of N simulated guests (domains 1..N,
/// bridge xenbr0), each guest connects through the daemon like a Linux netfront, announces itself with
/// one broadcast, then pings the next guest ten times a second (a request, echoed back by the peer), so
/// that the summary line shows live traffic and round trips.
/// </summary>
public sealed class DemoHost : IAsyncDisposable
{
    private const ushort EtherType = 0x88B5;
    private readonly List<Guest> _guests = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly IXenStore _toolstackStore;

    private DemoHost(IXenStore toolstackStore) => _toolstackStore = toolstackStore;

    private sealed class Guest(ushort domid) : ISimFrameConsumer
    {
        public ushort DomId { get; } = domid;
        public byte[] Mac { get; } = [0x00, 0x16, 0x3e, 0x00, 0x00, (byte)domid];
        public SimNetfront? Netfront { get; set; }
        public IXenStore? Store { get; set; }
        public long Replies;
        public long RoundTripTicks;
        public readonly byte[] Reply = new byte[64];

        public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
        {
            if (frame.Length < 24 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherType || !frame[..6].SequenceEqual(Mac))
                return;
            if (frame[14] == 1)
            {
                // An echo request: answer it from the callback's own buffer (the netfront copies it out).
                frame[..Math.Min(frame.Length, Reply.Length)].CopyTo(Reply);
                frame[6..12].CopyTo(Reply);
                Mac.CopyTo(Reply, 6);
                Reply[14] = 2;
                Netfront?.TrySend(Reply.AsSpan(0, Math.Min(frame.Length, Reply.Length)));
            }
            else if (frame[14] == 2)
            {
                var sent = BinaryPrimitives.ReadInt64LittleEndian(frame[16..]);
                Interlocked.Add(ref RoundTripTicks, System.Diagnostics.Stopwatch.GetTimestamp() - sent);
                Interlocked.Increment(ref Replies);
            }
        }
    }

    public static async Task<DemoHost> StartAsync(XenEnvironment xen, int guests, CancellationToken cancellationToken)
    {
        var socket = Path.Combine(xen.SimRoot!.Path, "xenstored.sock");
        var store = await XenStoreClient.ConnectAsync(socket, cancellationToken);
        var demo = new DemoHost(store);
        var toolstack = new SimToolstack(store);
        for (ushort d = 1; d <= guests; d++)
        {
            var guest = new Guest(d);
            demo._guests.Add(guest);
            await toolstack.CreateVifAsync(new SimVifSpec
            {
                GuestDomId = d,
                Handle = 0,
                Mac = string.Join(':', guest.Mac.Select(b => b.ToString("x2", CultureInfo.InvariantCulture))),
                BackendDomId = xen.Platform.BackendDomId,
            }, cancellationToken);
        }
        foreach (var guest in demo._guests)
        {
            guest.Store = await XenStoreClient.ConnectAsync(socket, cancellationToken);
            guest.Netfront = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = xen.SimRoot, DomId = guest.DomId }, guest.Store, guest, cancellationToken);
        }
        for (var i = 0; i < demo._guests.Count; i++)
            demo._loops.Add(demo.PingLoopAsync(demo._guests[i], demo._guests[(i + 1) % demo._guests.Count]));
        Log.Information("demo: {Guests} simulated guests started on bridge xenbr0", guests);
        return demo;
    }

    private async Task PingLoopAsync(Guest self, Guest peer)
    {
        var token = _stop.Token;
        try
        {
            await self.Netfront!.WaitForConnectedAsync(token);
            var frame = new byte[64];
            frame.AsSpan(0, 6).Fill(0xff);
            self.Mac.CopyTo(frame, 6);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherType);
            await self.Netfront.SendAsync(frame, default, token);

            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            while (await timer.WaitForNextTickAsync(token))
            {
                peer.Mac.CopyTo(frame, 0);
                frame[14] = 1;
                BinaryPrimitives.WriteInt64LittleEndian(frame.AsSpan(16), System.Diagnostics.Stopwatch.GetTimestamp());
                if (self.Netfront.IsConnected)
                    self.Netfront.TrySend(frame);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            Log.Warning("demo guest {DomId}: {Reason}", self.DomId, ex.Message);
        }
    }

    /// <summary>For the summary line: replies received and the mean round trip.</summary>
    public string Describe()
    {
        long replies = 0, ticks = 0;
        foreach (var g in _guests)
        {
            replies += Interlocked.Read(ref g.Replies);
            ticks += Interlocked.Read(ref g.RoundTripTicks);
        }
        var rtt = replies == 0 ? 0 : ticks * 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency / replies;
        return string.Create(CultureInfo.InvariantCulture, $"demo pings answered {replies}, mean rtt {rtt:F0} us");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        foreach (var g in _guests)
        {
            if (g.Netfront is not null)
                await g.Netfront.DisposeAsync();
            if (g.Store is not null)
                await g.Store.DisposeAsync();
        }
        await _toolstackStore.DisposeAsync();
    }
}
