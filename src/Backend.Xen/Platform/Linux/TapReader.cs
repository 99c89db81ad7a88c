using System.Buffers;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Linux;

/// <summary>One TAP as the <see cref="TapPoller"/> reads it, with a pooled frame buffer of its own.</summary>
internal sealed class TapReader(TapDevice tap, ITapFrameHandler handler) : IPollable, IDisposable
{
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(TapDevice.MaxFrameSize);

    public TapDevice Tap { get; } = tap;

    public FileDescriptor Handle => Tap.Handle;

    public void OnReadable()
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(TapReader));
        try
        {
            for (var i = 0; i < TapPoller.FramesPerTurn; i++)
            {
                if (!Tap.TryRead(buffer, out var header, out var length))
                    return;
                handler.OnFrame(Tap, in header, buffer.AsSpan(0, length));
            }
        }
        finally
        {
            // Also after a failed read: what the handler gathered before it is still to be handed on.
            handler.OnReadsDone(Tap);
        }
    }

    /// <summary>Only after the poll thread has let go of this reader.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
            ArrayPool<byte>.Shared.Return(buffer);
    }
}
