using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Xen.Tests.Netfront;

/// <summary>
/// Checks every frame a netfront receives with <see cref="CheckedFrames.Check"/>: counts good ones per
/// sequence number (to see loss and repeats), damaged ones, and broadcasts; wakes a waiting sender.
/// </summary>
public sealed class CheckingConsumer(int expected) : ISimFrameConsumer
{
    private readonly int[] _seen = new int[expected];
    private readonly SemaphoreSlim _arrived = new(0);
    private int _good;
    private int _damaged;
    private int _broadcasts;
    private int _other;

    public int Good => Volatile.Read(ref _good);
    public int Damaged => Volatile.Read(ref _damaged);
    public int Broadcasts => Volatile.Read(ref _broadcasts);
    public int Other => Volatile.Read(ref _other);

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
    {
        if (frame.Length >= 6 && frame[..6].SequenceEqual((ReadOnlySpan<byte>)[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
        {
            Interlocked.Increment(ref _broadcasts);
        }
        else if (CheckedFrames.Check(frame) is { } sequence && sequence < _seen.Length)
        {
            Interlocked.Increment(ref _seen[sequence]);
            Interlocked.Increment(ref _good);
        }
        else if (frame.Length >= 14 && frame[12] == 0x88 && frame[13] == 0xB5)
        {
            Interlocked.Increment(ref _damaged);
        }
        else
        {
            Interlocked.Increment(ref _other);
        }
        _arrived.Release();
    }

    /// <summary>Waits for the next frame of any kind.</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _arrived.WaitAsync(cancellationToken);

    /// <summary>Sequence numbers below <paramref name="count"/> not received exactly once.</summary>
    public IReadOnlyList<string> Anomalies(int count)
    {
        var anomalies = new List<string>();
        for (var i = 0; i < count && anomalies.Count < 20; i++)
        {
            var n = Volatile.Read(ref _seen[i]);
            if (n != 1)
                anomalies.Add($"#{i} received {n} times");
        }
        return anomalies;
    }
}
