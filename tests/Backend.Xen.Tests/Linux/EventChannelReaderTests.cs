using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipes;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Tests.Linux;

/// <summary>
/// The evtchn read/dispatch/unmask loop on its poll thread, driven through pipes standing in for the
/// device: pending ports go in through one pipe, the unmask writes come out of another.
/// </summary>
public sealed class EventChannelReaderTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly AnonymousPipeServerStream _pending = new(PipeDirection.Out);
    private readonly AnonymousPipeServerStream _unmasked = new(PipeDirection.In);
    private readonly FileDescriptor _source;
    private readonly FileDescriptor _unmask;
    private readonly BlockingCollection<uint> _dispatched = new();
    private readonly ConcurrentQueue<Exception> _faults = new();

    public EventChannelReaderTests()
    {
        _source = new FileDescriptor((int)_pending.ClientSafePipeHandle.DangerousGetHandle(), "pending pipe", ownsHandle: false);
        _unmask = new FileDescriptor((int)_unmasked.ClientSafePipeHandle.DangerousGetHandle(), "unmask pipe", ownsHandle: false);
    }

    public void Dispose()
    {
        _source.Dispose();
        _unmask.Dispose();
        _pending.Dispose();
        _unmasked.Dispose();
    }

    private void SendPending(params uint[] ports)
    {
        var bytes = new byte[ports.Length * 4];
        for (var i = 0; i < ports.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), ports[i]);
        _pending.Write(bytes);
        _pending.Flush();
    }

    private uint[] ReadUnmasked(int count)
    {
        var bytes = new byte[count * 4];
        var read = _unmasked.ReadAsync(bytes).AsTask();
        Assert.True(read.Wait(Patience), "no unmask write arrived");
        var total = read.Result;
        while (total < bytes.Length)
            total += _unmasked.Read(bytes, total, bytes.Length - total);
        var ports = new uint[count];
        for (var i = 0; i < count; i++)
            ports[i] = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i * 4));
        return ports;
    }

    /// <summary>An ordinary port's dispatch: handed on, and unmasked once the batch is through.</summary>
    private bool UnmaskAtOnce(uint port)
    {
        _dispatched.Add(port);
        return true;
    }

    private uint NextDispatched()
    {
        Assert.True(_dispatched.TryTake(out var port, Patience), "no port was dispatched");
        return port;
    }

    [Fact]
    public void Pending_ports_reach_the_handler_then_are_written_back_to_unmask()
    {
        using var poll = new PollThread("test-evtchn", (_, e) => _faults.Enqueue(e));
        var reader = new EventChannelReader(_source, _unmask, UnmaskAtOnce);
        poll.Add(reader);

        SendPending(3, 7, 4095);

        Assert.Equal([3u, 7u, 4095u], new[] { NextDispatched(), NextDispatched(), NextDispatched() });
        Assert.Equal([3u, 7u, 4095u], ReadUnmasked(3));
        Assert.Equal(3, reader.PortsRead);
        Assert.Empty(_faults);
    }

    [Fact]
    public async Task A_port_is_unmasked_only_after_its_handler_returned()
    {
        using var handlerMayReturn = new ManualResetEventSlim();
        var handlerRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var poll = new PollThread("test-evtchn", (_, e) => _faults.Enqueue(e));
        poll.Add(new EventChannelReader(_source, _unmask, port =>
        {
            handlerRunning.TrySetResult();
            handlerMayReturn.Wait(Patience);
            return UnmaskAtOnce(port);
        }));

        SendPending(9);
        await handlerRunning.Task.WaitAsync(Patience);
        var unmask = new byte[4];
        var read = _unmasked.ReadAsync(unmask).AsTask();
        await Task.WhenAny(read, Task.Delay(200));
        Assert.False(read.IsCompleted, "port 9 was unmasked while its handler was still running");
        handlerMayReturn.Set();
        await read.WaitAsync(Patience);
        Assert.Equal(9u, BinaryPrimitives.ReadUInt32LittleEndian(unmask));
    }

    [Fact]
    public async Task A_late_eoi_port_stays_masked_after_dispatch_until_its_owner_unmasks_it()
    {
        using var poll = new PollThread("test-evtchn", (_, e) => _faults.Enqueue(e));
        // Port 6 is late-EOI; 3 and 9 are ordinary ports of the same batch.
        var reader = new EventChannelReader(_source, _unmask, port =>
        {
            _dispatched.Add(port);
            return port != 6;
        });
        poll.Add(reader);

        SendPending(3, 6, 9);
        Assert.Equal([3u, 6u, 9u], new[] { NextDispatched(), NextDispatched(), NextDispatched() });
        Assert.Equal([3u, 9u], ReadUnmasked(2));
        var unmask = new byte[4];
        var read = _unmasked.ReadAsync(unmask).AsTask();
        await Task.WhenAny(read, Task.Delay(200));
        Assert.False(read.IsCompleted, "the late-EOI port 6 was unmasked at dispatch");

        // Its owner, done with the event, unmasks it from another thread.
        await Task.Run(() => reader.Unmask(6));
        await read.WaitAsync(Patience);
        Assert.Equal(6u, BinaryPrimitives.ReadUInt32LittleEndian(unmask));
        Assert.Empty(_faults);
    }

    [Fact]
    public async Task A_batch_of_only_late_eoi_ports_writes_nothing_back()
    {
        using var poll = new PollThread("test-evtchn", (_, e) => _faults.Enqueue(e));
        poll.Add(new EventChannelReader(_source, _unmask, port =>
        {
            _dispatched.Add(port);
            return false;
        }));

        SendPending(4, 5);
        Assert.Equal([4u, 5u], new[] { NextDispatched(), NextDispatched() });
        var unmask = new byte[4];
        var read = _unmasked.ReadAsync(unmask).AsTask();
        await Task.WhenAny(read, Task.Delay(200));
        Assert.False(read.IsCompleted, "a port was written back though every handler keeps its port masked");
        // The reader goes on: a later batch is read and dispatched.
        SendPending(7);
        Assert.Equal(7u, NextDispatched());
        Assert.Empty(_faults);
    }

    [Fact]
    public void Successive_batches_are_all_delivered()
    {
        using var poll = new PollThread("test-evtchn", (_, e) => _faults.Enqueue(e));
        poll.Add(new EventChannelReader(_source, _unmask, UnmaskAtOnce));
        for (uint batch = 1; batch <= 50; batch++)
        {
            SendPending(batch);
            Assert.Equal(batch, NextDispatched());
            Assert.Equal([batch], ReadUnmasked(1));
        }
    }

    [Fact]
    public async Task The_poll_thread_stops_cleanly_and_promptly_while_blocked()
    {
        var poll = new PollThread("test-evtchn", (_, e) => _faults.Enqueue(e));
        poll.Add(new EventChannelReader(_source, _unmask, UnmaskAtOnce));
        await Task.Run(poll.Dispose).WaitAsync(Patience);
        Assert.Empty(_faults);
        // Stopped means stopped: a port sent now is read by nobody.
        SendPending(5);
        Assert.False(_dispatched.TryTake(out _, TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public void After_remove_returns_the_reader_is_never_called_again()
    {
        using var poll = new PollThread("test-evtchn", (_, e) => _faults.Enqueue(e));
        var reader = new EventChannelReader(_source, _unmask, UnmaskAtOnce);
        poll.Add(reader);
        SendPending(1);
        Assert.Equal(1u, NextDispatched());

        poll.Remove(reader);
        SendPending(2);
        Assert.False(_dispatched.TryTake(out _, TimeSpan.FromMilliseconds(100)), "a removed reader was called");
        Assert.False(_source.IsClosed);
    }

    [Fact]
    public async Task End_of_file_on_the_source_is_a_fault_that_removes_only_that_reader()
    {
        using var other = new AnonymousPipeServerStream(PipeDirection.Out);
        using var otherSource = new FileDescriptor((int)other.ClientSafePipeHandle.DangerousGetHandle(), "other pipe", ownsHandle: false);
        var faulted = new TaskCompletionSource<IPollable>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var poll = new PollThread("test-evtchn", (p, _) => faulted.TrySetResult(p));
        var healthy = new EventChannelReader(otherSource, _unmask, UnmaskAtOnce);
        var broken = new EventChannelReader(_source, _unmask, UnmaskAtOnce);
        poll.Add(healthy);
        poll.Add(broken);

        _pending.Dispose();
        Assert.Same(broken, await faulted.Task.WaitAsync(Patience));

        other.Write([11, 0, 0, 0]);
        Assert.Equal(11u, NextDispatched());
    }

    [Fact]
    public async Task A_callback_may_dispose_its_poll_thread_and_later_adds_are_refused()
    {
        PollThread? poll = null;
        var disposedFromCallback = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        poll = new PollThread("test-evtchn", (_, e) => _faults.Enqueue(e));
        var reader = new EventChannelReader(_source, _unmask, port =>
        {
            _dispatched.Add(port);
            poll.Dispose();
            disposedFromCallback.TrySetResult();
            return true;
        });
        poll.Add(reader);
        SendPending(1);
        await disposedFromCallback.Task.WaitAsync(Patience);

        Assert.Equal(1u, NextDispatched());
        Assert.Equal([1u], ReadUnmasked(1));
        SendPending(2);
        Assert.False(_dispatched.TryTake(out _, TimeSpan.FromMilliseconds(100)), "the thread went on after being disposed");
        await Task.Run(() => poll.Remove(reader)).WaitAsync(Patience);
        Assert.Throws<ObjectDisposedException>(() => poll.Add(reader));
        Assert.Empty(_faults);
    }
}
