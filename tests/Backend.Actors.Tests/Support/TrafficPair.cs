using Backend.Xen.Platform.Sim.Toolstack;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// Two guests on one bridge exchanging windowed, verified traffic both ways: the reusable zero-loss
/// driver of the robustness tests. It creates both vifs (MTU 9000, so that frames of several slots are
/// allowed), starts the netfronts, and after <see cref="ConnectAsync"/> (both Connected, each has
/// broadcast once and the peer has seen it, so the bridge knows both MACs) runs traffic and checks it.
/// </summary>
public sealed class TrafficPair : IAsyncDisposable
{
    public const int Mtu = 9000;

    private TrafficPair(TrafficGuest a, TrafficGuest b)
    {
        A = a;
        B = b;
        a.Peer = b;
        b.Peer = a;
    }

    public TrafficGuest A { get; }

    public TrafficGuest B { get; }

    public IEnumerable<TrafficGuest> Guests => [A, B];

    public static async Task CreateVifAsync(SimToolstack toolstack, ushort domid) =>
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = domid, Handle = 0, Mac = TrafficGuest.MacText(domid), Mtu = Mtu });

    /// <summary>Creates both vifs with <paramref name="toolstack"/> and starts both netfronts.</summary>
    public static async Task<TrafficPair> StartAsync(SimBackendFixture sim, SimToolstack toolstack, ushort a, ushort b)
    {
        await CreateVifAsync(toolstack, a);
        await CreateVifAsync(toolstack, b);
        var ga = await TrafficGuest.StartAsync(sim, a, b);
        try
        {
            return new TrafficPair(ga, await TrafficGuest.StartAsync(sim, b, a));
        }
        catch
        {
            await ga.DisposeAsync();
            throw;
        }
    }

    public async Task ConnectAsync(CancellationToken ct)
    {
        await A.Netfront.WaitForConnectedAsync(ct);
        await B.Netfront.WaitForConnectedAsync(ct);
        await A.SendHelloAsync(ct);
        await B.SendHelloAsync(ct);
        try
        {
            while (A.Receiver.MarkersFrom(B.Mac) == 0 || B.Receiver.MarkersFrom(A.Mac) == 0)
                await Task.Delay(5, ct);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"hellos lost: guest {A.DomId} has {A.Receiver.MarkersFrom(B.Mac)} from guest {B.DomId}, which has {B.Receiver.MarkersFrom(A.Mac)} from it");
        }
    }

    public Task RunAsync(int framesEach, CancellationToken ct) => Task.WhenAll(A.RunAsync(framesEach, ct), B.RunAsync(framesEach, ct));

    public Task RunUntilAsync(int minimum, Task? stop, CancellationToken ct) =>
        Task.WhenAll(A.RunUntilAsync(minimum, stop, ct), B.RunUntilAsync(minimum, stop, ct));

    /// <summary>Waits until each guest has received every frame its peer sent (from the floor up).</summary>
    public async Task WaitDeliveredAsync(CancellationToken ct)
    {
        foreach (var g in Guests)
            await WaitDeliveredAsync(g, ct);
    }

    /// <summary>Waits until <paramref name="receiver"/> has every frame its peer sent at or above its floor.</summary>
    public static async Task WaitDeliveredAsync(TrafficGuest receiver, CancellationToken ct)
    {
        try
        {
            while (receiver.Receiver.DistinctAtOrAboveFloor < receiver.Peer.Sent - (int)receiver.Receiver.Floor)
                await Task.Delay(5, ct);
        }
        catch (OperationCanceledException)
        {
            var missing = receiver.Receiver.Missing(receiver.Peer.Sent);
            Assert.Fail($"guest {receiver.DomId} is missing {missing.Count} of the {receiver.Peer.Sent} frames guest {receiver.Peer.DomId} sent " +
                $"(floor {receiver.Receiver.Floor}), first {string.Join(',', missing.Take(10))}");
        }
    }

    /// <summary>Every frame sent arrived once, intact (from each receiver's floor up).</summary>
    public void AssertZeroLoss()
    {
        foreach (var g in Guests)
            AssertZeroLoss(g);
    }

    public static void AssertZeroLoss(TrafficGuest receiver)
    {
        var r = receiver.Receiver;
        Assert.True(r.Problems.Count == 0, $"guest {receiver.DomId} received corrupted frames: {string.Join("; ", r.Problems.Take(5))}");
        Assert.True(r.DuplicatesAtOrAboveFloor == 0, $"guest {receiver.DomId} received {r.DuplicatesAtOrAboveFloor} frames twice");
        var missing = r.Missing(receiver.Peer.Sent);
        Assert.True(missing.Count == 0, $"guest {receiver.DomId} lost {missing.Count} of the {receiver.Peer.Sent} frames of guest {receiver.Peer.DomId}: {string.Join(',', missing.Take(10))}");
    }

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
    }
}
