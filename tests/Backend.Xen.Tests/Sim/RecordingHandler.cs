using System.Threading.Channels;
using Backend.Xen.EventChannels;

namespace Backend.Xen.Tests.Sim;

/// <summary>Records the ports it is told about, for a test to await.</summary>
public sealed class RecordingHandler : IEventChannelHandler
{
    private readonly Channel<uint> _events = Channel.CreateUnbounded<uint>();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void OnEvent(uint localPort)
    {
        Interlocked.Increment(ref _count);
        _events.Writer.TryWrite(localPort);
    }

    /// <summary>The next event, or a failure naming what was awaited after <paramref name="seconds"/>.</summary>
    public async Task<uint> NextAsync(string what, int seconds = 10)
    {
        try
        {
            return await _events.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"no event within {seconds} s: {what}");
            throw;
        }
    }

    public bool TryTake(out uint port) => _events.Reader.TryRead(out port);
}
