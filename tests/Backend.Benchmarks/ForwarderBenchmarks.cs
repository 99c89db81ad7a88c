using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using BenchmarkDotNet.Attributes;

namespace Backend.Benchmarks;

/// <summary>
/// The bridge forwarder per drain: 64 frames of 64 bytes from one vif's port to <see cref="Peers"/> peers
/// on a bridge of 64 locked vif ports (the bench's 32 pairs), round robin (1: one run to one destination;
/// 8: a different destination every frame). Each round rents and heads the frames (included in the
/// figure) and forwards them; the receivers take the batches on the same thread and return them, so
/// the figure is the forwarder's work without a mailbox. Uses only the bridge's public surface, so the
/// same file measures an older forwarder.
/// </summary>
[MemoryDiagnoser]
public class ForwarderBenchmarks
{
    private const int FramesPerDrain = 64;
    private const int Ports = 64;
    private const int FrameBytes = 64;

    private ActorSystem? _system;
    private PacketBufferPool? _buffers;
    private BridgeForwarder? _forwarder;
    private readonly PacketBuffer[] _frames = new PacketBuffer[FramesPerDrain];
    private MacAddress[] _destinations = [];
    private static readonly MacAddress Source = Mac(0);

    [Params(1, 8)]
    public int Peers { get; set; }

    private static MacAddress Mac(int i) => new(0x00163E000000UL | (uint)(i + 1));

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("forwarder-benchmark");
        var provider = ((ExtendedActorSystem)_system).Provider;
        _buffers = new PacketBufferPool();
        var bridge = new LearningBridge("xenbr0", TimeProvider.System);
        var ports = new BridgePort[Ports];
        for (var i = 0; i < Ports; i++)
        {
            ports[i] = bridge.AddPort($"vif{i + 1}.0", new ReturningReceiver(provider, $"rx{i}"), Mac(i));
            ports[i].Connected = true;
            bridge.Learn(Mac(i), ports[i], bridge.Timestamp());
        }
        _forwarder = new BridgeForwarder(bridge, ports[0], _buffers);
        _destinations = [.. Enumerable.Range(1, Peers).Select(Mac)];
        for (var i = 0; i < 100; i++)
            Drain();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _system?.Terminate().GetAwaiter().GetResult();
        _buffers?.Dispose();
    }

    [Benchmark(Description = "forward a drain of 64 frames of 64 B")]
    public void Drain()
    {
        for (var i = 0; i < FramesPerDrain; i++)
        {
            var frame = _buffers!.Rent(FrameBytes);
            frame.Length = FrameBytes;
            var span = frame.Span;
            _destinations[i % _destinations.Length].Write(span);
            Source.Write(span[6..]);
            _frames[i] = frame;
        }
        _forwarder!.Forward(_frames);
    }

    /// <summary>Takes a frame batch on the sender's thread and returns its buffers, as a receiver would.</summary>
    private sealed class ReturningReceiver(IActorRefProvider provider, string name) : MinimalActorRef
    {
        public override ActorPath Path { get; } = provider.RootPath / name;

        public override IActorRefProvider Provider { get; } = provider;

        protected override void TellInternal(object message, IActorRef sender) => ((FrameBatch)message).Discard();
    }
}
