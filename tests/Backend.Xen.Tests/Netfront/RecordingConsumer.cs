using System.Threading.Channels;
using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Xen.Tests.Netfront;

/// <summary>Keeps a copy of every frame a netfront receives, readable as a channel.</summary>
public sealed class RecordingConsumer : ISimFrameConsumer
{
    private readonly Channel<(byte[] Frame, SimRxFrameInfo Info)> _frames = Channel.CreateUnbounded<(byte[], SimRxFrameInfo)>();

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info) => _frames.Writer.TryWrite((frame.ToArray(), info));

    public async Task<(byte[] Frame, SimRxFrameInfo Info)> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await _frames.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"no frame received within {timeout.TotalSeconds} s");
            throw;
        }
    }
}
