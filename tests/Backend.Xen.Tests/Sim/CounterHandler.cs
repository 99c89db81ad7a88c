using Backend.Xen.EventChannels;

namespace Backend.Xen.Tests.Sim;

/// <summary>
/// Reads a counter the notifier wrote before notifying, at each event (as a backend re-reads a ring's
/// producer index), and completes once it has seen <see cref="Target"/>: a lost wake-up leaves it waiting.
/// </summary>
public sealed class CounterHandler(Func<uint> readCounter, uint target) : IEventChannelHandler
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public uint Target { get; } = target;

    public Task Done => _done.Task;

    public int Events;

    public void OnEvent(uint localPort)
    {
        Interlocked.Increment(ref Events);
        if (readCounter() == Target)
            _done.TrySetResult();
    }
}
