using Akka.TestKit.Xunit2;
using Backend.Actors.Tests.Support;
using Backend.Actors.Xenbus;
using Backend.Xen.Platform.Sim.Toolstack;

namespace Backend.Actors.Tests.DataPath;

/// <summary>
/// An RX copy batch smaller than one frame's copies (BackendOptions.CopyBatchSize is the knob): such a
/// frame can never be planned, so it is dropped and counted, never looped on, and the frames after it go.
/// </summary>
public sealed class RxCopyBatchTests : TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(60));
    private SimBackendFixture _sim = null!;
    private TrafficPair _pair = null!;

    public RxCopyBatchTests() : base(@"akka.loglevel = INFO")
    {
    }

    public async Task InitializeAsync()
    {
        _sim = await SimBackendFixture.CreateAsync();
        _pair = await TrafficPair.StartAsync(_sim, new SimToolstack(_sim.XenStore), 1, 2);
        // Two segments: a one-page frame fits, a 9000-byte one (three pages at least) never does.
        Sys.ActorOf(XenbusSupervisor.Props(_sim.Services(Sys, new BackendOptions { WriteHotplugStatus = true, CopyBatchSize = 2 })), "xenbus");
        await _pair.ConnectAsync(_cts.Token);
    }

    public async Task DisposeAsync()
    {
        // The actors hold ring mappings and event channels: stop them before the platform goes.
        await Sys.Terminate();
        await _pair.DisposeAsync();
        await _sim.DisposeAsync();
        _cts.Dispose();
    }

    [Fact]
    public async Task A_frame_needing_more_copies_than_a_batch_holds_is_dropped_and_the_next_one_delivered()
    {
        var a = _pair.A;
        var b = _pair.B;
        var big = new byte[9000];
        b.Mac.CopyTo(big, 0);
        a.Mac.CopyTo(big, 6);
        big[12] = 0x88;
        big[13] = 0xB5;
        await a.Netfront.SendAsync(big, default, _cts.Token);
        await a.Netfront.SendAsync(TrafficGuest.Marker(b.Mac, a.Mac), default, _cts.Token);

        // The hello, then the marker behind the dropped frame.
        await AwaitAssertAsync(() => Assert.Equal(2, b.Receiver.MarkersFrom(a.Mac)), Timeout);
        var status = _sim.Status.Snapshot().Single(v => v.Id.DomId == b.DomId);
        Assert.Equal(1, Interlocked.Read(ref status.RxDropped));
        Assert.Equal(0, Volatile.Read(ref status.RxQueued));
        Assert.False(status.Disabled);
    }
}
