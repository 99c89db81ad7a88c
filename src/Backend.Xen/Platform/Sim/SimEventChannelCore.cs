using System.Buffers.Binary;
using System.Net.Sockets;
using Backend.Xen.EventChannels;
using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// What both sides of SIMXEN's event channels do alike: notify through the pending bitmap and a wake-up
/// datagram, and receive on one loop per domain (never a thread per channel, never polling the bitmap)
/// that reads every queued datagram, then takes every pending word and calls each port's handler. A
/// guest's loop is asynchronous (the runtime's socket engine: a process may host many guests); the
/// backend's is one dedicated thread blocked in recv, as the real platform's evtchn reader: the socket
/// engine would wake its epoll thread and then a thread-pool thread for every notification, one wake-up
/// more on every frame's path. That thread wakes every 100 ms when idle, only to see a stop.
/// <para>
/// A late-EOI port (the backend's, XSA-332) is masked from the delivery of an event until its late EOI, as
/// Xen masks it: the receive loop takes only unmasked ports' bits, so a notification meanwhile leaves its
/// bit set in the pending bitmap, where Xen keeps a masked port's, and the notifier's further
/// notifications find it set and send nothing; the late EOI delivers it. (Taking the masked port's bit
/// too and setting it again let a notification in between find it clear and send a wake-up.)
/// </para>
/// </summary>
internal sealed class SimEventChannelCore : IDisposable
{
    private readonly SimDomain _domain;
    private readonly SimNotifyTargets _targets;
    private readonly IEventChannelHandler?[] _handlers = new IEventChannelHandler?[SimRoot.EventChannelPorts];
    private readonly bool[] _lateEoi = new bool[SimRoot.EventChannelPorts];
    // Bit p set from late-EOI port p's delivery until its late EOI (as Xen's mask bitmap, in our memory).
    private readonly ulong[] _masked = new ulong[SimEventChannelPending.Words];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiveLoop;
    private long _notifications;
    private long _suppressed;
    private long _sendFailures;
    private long _datagramsReceived;
    private long _handlerFailures;
    private int _deliveringThread;

    /// <param name="domain">The domain whose channels these are.</param>
    /// <param name="dedicatedThread">Receive on a thread of its own (the backend) rather than asynchronously.</param>
    /// <param name="keepTargets">Keep peers' targets mapped once opened, or only while held (the backend; see <see cref="SimNotifyTargets"/>).</param>
    public SimEventChannelCore(SimDomain domain, bool dedicatedThread = false, bool keepTargets = true)
    {
        _domain = domain;
        _targets = new SimNotifyTargets(domain.Root, keepTargets);
        if (dedicatedThread)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() => ReceiveLoopBlocking(_stop.Token, done))
            {
                IsBackground = true,
                Name = $"sim-evtchn-{domain.DomId}",
            };
            thread.Start();
            _receiveLoop = done.Task;
        }
        else
        {
            _receiveLoop = ReceiveLoopAsync(_stop.Token);
        }
    }

    public SimNotifyTargets Targets => _targets;

    public SimEventChannelCounters Counters => new(
        Interlocked.Read(ref _notifications),
        Interlocked.Read(ref _suppressed),
        Interlocked.Read(ref _sendFailures),
        Interlocked.Read(ref _datagramsReceived),
        Interlocked.Read(ref _handlerFailures));

    /// <summary>Completes when the receive loop has stopped (after <see cref="Dispose"/>), faulted if it failed.</summary>
    public Task ReceiveLoop => _receiveLoop;

    /// <summary>Sets (or, with null, clears) the handler of <paramref name="port"/>; a new binding starts unmasked.</summary>
    public void SetHandler(uint port, IEventChannelHandler? handler, bool lateEoi = false)
    {
        Volatile.Write(ref _handlers[port], null);
        Volatile.Write(ref _lateEoi[port], lateEoi);
        Unmask(port);
        Volatile.Write(ref _handlers[port], handler);
    }

    /// <summary>
    /// Unmasks late-EOI <paramref name="port"/> if <paramref name="handler"/> still has it and delivers, on
    /// this thread, an event held while it was masked, as Xen raises a port that is pending when unmasked.
    /// </summary>
    public void LateEoi(uint port, IEventChannelHandler handler)
    {
        if (port == 0 || port >= SimRoot.EventChannelPorts || !ReferenceEquals(Volatile.Read(ref _handlers[port]), handler) || !Volatile.Read(ref _lateEoi[port]))
            return;
        Unmask(port);
        // After the unmask (a full barrier): a delivery that found the port masked set the bit first and
        // looks at the mask after, so one of us sees the other's move.
        if (_domain.Pending.TakePort(port))
            Deliver(port, fromReceiveLoop: false);
    }

    /// <summary>
    /// Notifies local port <paramref name="port"/>: reads its entry (every time: a guest never caches the
    /// backend's port), sets the peer's bit and, only if it was clear, sends one datagram without blocking;
    /// a failed send is ignored (the receiver has wake-ups queued: each target has its own socket, see
    /// <see cref="SimNotifyTarget"/>). An unbound port, or a peer that is not
    /// there, does nothing, as in Xen.
    /// </summary>
    public void Notify(uint port, bool revalidatePeer)
    {
        if (port == 0 || port >= SimRoot.EventChannelPorts)
            return;
        var entry = _domain.Peers.Read(port);
        if (!entry.IsInterdomain || entry.PeerPort == 0 || entry.PeerPort >= SimRoot.EventChannelPorts)
            return;
        var target = _targets.Acquire(entry.PeerDomId, revalidatePeer);
        if (target is null)
            return;
        try
        {
            Interlocked.Increment(ref _notifications);
            if (!target.Pending.SetPending(entry.PeerPort))
            {
                Interlocked.Increment(ref _suppressed);
                return;
            }
            Span<byte> datagram = stackalloc byte[sizeof(uint)];
            BinaryPrimitives.WriteUInt32LittleEndian(datagram, entry.PeerPort);
            if (!target.TrySend(datagram))
                Interlocked.Increment(ref _sendFailures);
        }
        finally
        {
            target.Release();
        }
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
            return;
        _stop.Cancel();
        // A handler that disposes its own channels would wait for itself: the loop ends after it returns.
        if (Volatile.Read(ref _deliveringThread) != Environment.CurrentManagedThreadId)
        {
            try
            {
                _receiveLoop.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
            }
        }
        _targets.Dispose();
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var socket = _domain.EventChannelSocket;
        var buffer = new byte[64];
        var dispatch = new Dispatch(this);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            DrainWakeUps(socket, buffer);
            _domain.Pending.TakeAll(ref dispatch, _masked);
        }
    }

    private void ReceiveLoopBlocking(CancellationToken cancellationToken, TaskCompletionSource done)
    {
        var socket = _domain.EventChannelSocket;
        var buffer = new byte[64];
        var dispatch = new Dispatch(this);
        // The timeout is how the thread sees a stop: nothing wakes a blocked recv on a socket that stays open.
        socket.ReceiveTimeout = 100;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    socket.Receive(buffer, SocketFlags.None);
                    DrainWakeUps(socket, buffer);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    continue;
                }
                catch (SocketException)
                {
                    // Any other error is the socket's, not a guest's (a datagram is only a wake-up): keep
                    // serving, and look at the bitmap anyway in case a wake-up was lost with it.
                    if (cancellationToken.IsCancellationRequested)
                        break;
                    Thread.Sleep(1);
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                _domain.Pending.TakeAll(ref dispatch, _masked);
            }
            done.TrySetResult();
        }
        catch (Exception e)
        {
            done.TrySetException(e);
        }
    }

    /// <summary>
    /// Counts the datagram just received and reads every one queued behind it: a datagram is only a
    /// wake-up, the bitmap says what is pending.
    /// </summary>
    private void DrainWakeUps(Socket socket, byte[] buffer)
    {
        Interlocked.Increment(ref _datagramsReceived);
        while (socket.Available > 0)
        {
            socket.Receive(buffer, SocketFlags.None);
            Interlocked.Increment(ref _datagramsReceived);
        }
    }

    private void Deliver(uint port, bool fromReceiveLoop)
    {
        var handler = Volatile.Read(ref _handlers[port]);
        if (handler is null)
            return;
        if (Volatile.Read(ref _lateEoi[port]) && !TryMask(port))
            return;
        if (fromReceiveLoop)
            Volatile.Write(ref _deliveringThread, Environment.CurrentManagedThreadId);
        try
        {
            handler.OnEvent(port);
        }
        catch (Exception)
        {
            // One handler's bug must not stop delivery to every other port of this domain. A late-EOI
            // port is unmasked again: its handler may never get to the EOI.
            Interlocked.Increment(ref _handlerFailures);
            if (Volatile.Read(ref _lateEoi[port]))
                Unmask(port);
        }
        finally
        {
            if (fromReceiveLoop)
                Volatile.Write(ref _deliveringThread, 0);
        }
    }

    /// <summary>
    /// Masks a late-EOI port for the event being delivered: true when it was unmasked. It is masked already
    /// only when the receive loop took its bit just before a late EOI's delivery masked it again (the loop
    /// leaves a masked port's bit alone): then the event is put back for <see cref="LateEoi"/> to deliver,
    /// unless that late EOI came meanwhile and may have looked at the bit before it was set: then the
    /// event is taken back and delivered now.
    /// </summary>
    private bool TryMask(uint port)
    {
        var w = (int)(port / 64);
        var bit = 1UL << (int)(port % 64);
        while (true)
        {
            if ((Interlocked.Or(ref _masked[w], bit) & bit) == 0)
                return true;
            _domain.Pending.SetPending(port);
            if ((Volatile.Read(ref _masked[w]) & bit) != 0 || !_domain.Pending.TakePort(port))
                return false;
        }
    }

    private void Unmask(uint port) => Interlocked.And(ref _masked[port / 64], ~(1UL << (int)(port % 64)));

    private readonly struct Dispatch(SimEventChannelCore core) : ISimPendingPortHandler
    {
        public void OnPending(uint port) => core.Deliver(port, fromReceiveLoop: true);
    }
}
