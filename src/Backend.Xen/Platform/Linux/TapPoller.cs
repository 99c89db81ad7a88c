using System.Collections.Concurrent;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// Reads every registered TAP on one dedicated poll thread and hands each frame to that TAP's handler.
/// Each TAP gets at most <see cref="FramesPerTurn"/> frames per wake-up, so a busy one cannot starve the
/// others; poll is level-triggered, so what is left is read on the next turn.
/// </summary>
public sealed class TapPoller : IDisposable
{
    public const int FramesPerTurn = 64;

    private readonly PollThread _poll;
    private readonly ConcurrentDictionary<TapDevice, TapReader> _readers = new();

    /// <param name="faulted">Told when reading a TAP fails or its handler throws; that TAP is no longer read.</param>
    public TapPoller(Action<TapDevice, Exception>? faulted = null)
    {
        _poll = new PollThread("xnb-tap", (pollable, e) =>
        {
            var reader = (TapReader)pollable;
            _readers.TryRemove(reader.Tap, out _);
            reader.Dispose();
            faulted?.Invoke(reader.Tap, e);
        });
    }

    public void Add(TapDevice tap, ITapFrameHandler handler)
    {
        var reader = new TapReader(tap, handler);
        if (!_readers.TryAdd(tap, reader))
        {
            reader.Dispose();
            throw new InvalidOperationException($"TAP {tap.Name} is already being read");
        }
        _poll.Add(reader);
    }

    /// <summary>Stops reading <paramref name="tap"/>; when this returns, its handler is not running and will not be called again.</summary>
    public void Remove(TapDevice tap)
    {
        if (!_readers.TryRemove(tap, out var reader))
            return;
        _poll.Remove(reader);
        reader.Dispose();
    }

    public void Dispose()
    {
        _poll.Dispose();
        foreach (var reader in _readers.Values)
            reader.Dispose();
        _readers.Clear();
    }
}
