using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// <c>/dev/xen/xenbus</c> as a Stream: every Write is exactly one write(2) of the whole buffer (the
/// xs_wire client writes each message with one call, and the device takes a message per write), every
/// Read is one read(2).
/// </summary>
/// <remarks>
/// Not FileStream: its writes loop over partial writes and its async reads block a pool thread with no
/// way to cancel them. Here a read first polls the device together with an eventfd, so that Dispose wakes
/// a reader blocked on a quiet device, which then sees end of stream. ReadAsync and WriteAsync run the
/// calls on the thread pool without Stream's default one-at-a-time lock, so a pending read never holds
/// up a write (a xenstore client always has a read pending).
/// </remarks>
internal sealed unsafe class XenBusStream : Stream
{
    private readonly FileDescriptor _device;
    private readonly FileDescriptor _stop = FileDescriptor.EventFd();
    private int _disposed;

    public XenBusStream(FileDescriptor device)
    {
        _device = device;
    }

    public override bool CanRead => _disposed == 0;
    public override bool CanWrite => _disposed == 0;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
            return 0;
        var added = false;
        try
        {
            _device.DangerousAddRef(ref added);
            while (true)
            {
                if (!WaitReadable())
                    return 0;
                long n;
                fixed (byte* p = buffer)
                    n = LibC.read(_device.Fd, p, buffer.Length);
                if (n >= 0)
                    return (int)n;
                var errno = Errno.Last;
                if (errno is not (Errno.EINTR or Errno.EAGAIN))
                    throw new LinuxDeviceException(_device.Path, "read", errno);
            }
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
        finally
        {
            if (added)
                _device.DangerousRelease();
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var added = false;
        try
        {
            _device.DangerousAddRef(ref added);
            while (true)
            {
                long n;
                fixed (byte* p = buffer)
                    n = LibC.write(_device.Fd, p, buffer.Length);
                if (n == buffer.Length)
                    return;
                if (n >= 0)
                    // The device takes a message whole or not at all; a short write would split one.
                    throw new IOException($"write on {_device.Path} took {n} of {buffer.Length} bytes");
                var errno = Errno.Last;
                if (errno != Errno.EINTR)
                    throw new LinuxDeviceException(_device.Path, "write", errno);
            }
        }
        finally
        {
            if (added)
                _device.DangerousRelease();
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        new(Task.Factory.StartNew(
            static state => { var (stream, memory) = ((XenBusStream, Memory<byte>))state!; return stream.Read(memory.Span); },
            (this, buffer), cancellationToken, TaskCreationOptions.DenyChildAttach, TaskScheduler.Default));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // A write to the xenbus device does not wait for xenstored; it returns as soon as the message is queued.
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && disposing)
        {
            ulong one = 1;
            LibC.write(_stop.Fd, &one, sizeof(ulong));
            // The descriptors close once the last blocked read releases them (SafeHandle reference counts).
            _device.Dispose();
            _stop.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>Waits until the device has data; false when the stream is being disposed.</summary>
    private bool WaitReadable()
    {
        var added = false;
        try
        {
            _stop.DangerousAddRef(ref added);
            var fds = stackalloc PollFd[2];
            while (true)
            {
                fds[0] = new PollFd { Fd = _device.Fd, Events = LibC.POLLIN };
                fds[1] = new PollFd { Fd = _stop.Fd, Events = LibC.POLLIN };
                if (NativeCalls.Poll(fds, 2, -1) < 0)
                {
                    var errno = Errno.Last;
                    if (errno == Errno.EINTR)
                        continue;
                    throw new LinuxDeviceException(_device.Path, "poll", errno);
                }
                if (fds[1].Revents != 0 || _disposed != 0)
                    return false;
                if (fds[0].Revents != 0)
                    return true;
            }
        }
        finally
        {
            if (added)
                _stop.DangerousRelease();
        }
    }
}
