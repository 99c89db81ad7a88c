using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Rings;

/// <summary>
/// Runs a vif's RX ring (host to guest) around its <see cref="RxQueue"/>, which makes every protocol
/// decision: frames arrive in batches (from bridge ports, TAP readers) and go into the queue, which
/// bounds them; on a batch, a notification or a kick the queue plans a pass into the posted buffers, the
/// pass's grant copies go to the lane's hypercall actor, and once they are back the queue answers the
/// requests; the frontend is notified when ring.h says so. An impossible req_prod found by the queue is
/// reported to the connection actor, which disables the vif.
/// <para>
/// A turn (one message) takes at most one pass, which yields by nature when it has copies; a pass that
/// found too few requests posted while req_prod moved looks again only at its next turn (a
/// <see cref="RingProtocol.DrainContinuation"/>), so a frontend that keeps moving req_prod without ever
/// leaving room cannot hold its lane's thread.
/// </para>
/// <para>
/// After every turn the queue drops the frames that waited too long and says whether the frontend stalled
/// or posts again (<see cref="RxQueue.Watch"/>); the connection actor hears of a change
/// (<see cref="VifProtocol.RxStall"/>) and turns the vif's carrier off or on. A timer brings the actor back
/// when the queue has something to watch for and nothing else would (a guest that takes nothing).
/// </para>
/// </summary>
internal sealed class RxRingActor : ReceiveActor, IWithTimers
{
    private readonly BackendServices _services;
    private readonly RingPage _ringPage;
    private readonly VifChannels _channels;
    private readonly RxQueueSettings _settings;
    private readonly VifStatus _status;
    private readonly IActorRef _hypercall;

    private RxQueue _queue = null!;
    // The message that carries the queue's copies to the hypercall actor and back, made at the first pass with copies.
    private GrantCopyBatch? _copies;
    private bool _continuationPending;
    // The watch timer is armed for this timestamp (of the queue's clock), or not armed (0).
    private long _watchDue;

    public RxRingActor(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, RxQueueSettings settings)
    {
        _services = services;
        _ringPage = ringPage;
        _channels = channels;
        _settings = settings;
        _status = services.Status.GetOrAdd(vif);
        _hypercall = services.Hypercalls.For(vif.DomId, channels.Queue).Copier;

        Receive<FrameBatch>(OnFrames);
        Receive<RingProtocol.RingEvent>(e =>
        {
            if (e.IsNotification)
                _channels.RxEvents.Take(_queue.ReadRequestProducer());
            Deliver();
        });
        Receive<RingProtocol.DrainContinuation>(_ =>
        {
            _continuationPending = false;
            Deliver();
        });
        Receive<RingProtocol.RxWatchDue>(_ =>
        {
            _watchDue = 0;
            Deliver();
        });
        Receive<GrantCopyBatch>(OnCopied);
        Receive<RingProtocol.InjectFault>(f => throw new InvalidOperationException($"injected fault: {f.Reason}"));
        Receive<RingProtocol.Stop>(_ => _queue.Stop());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, RxQueueSettings settings) =>
        Akka.Actor.Props.Create(() => new RxRingActor(vif, services, ringPage, channels, settings));

    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        EndTurn();
        return handled;
    }

    protected override void PreStart()
    {
        _queue = new RxQueue(_ringPage.Address, _settings, _services.Buffers);
        // A vif disabled before a restart of its tree stays disabled: the ring is never read again.
        if (_status.Disabled)
            _queue.Stop();
    }

    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        // The new queue has not stalled, whatever the last one had found: the carrier comes back, and a
        // guest that still takes nothing stalls again after the timeout.
        Context.Parent.Tell(new VifProtocol.RxStall(Stalled: false));
        Self.Tell(RingProtocol.RingEvent.Instance);
        _status.RingReattached();
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // Not PostStop: the ring page stays held for the next incarnation.
        _queue.Release();
        Interlocked.Add(ref _status.RxDropped, _queue.TakeDropped());
    }

    protected override void PostStop()
    {
        if (_queue is not null)
        {
            _queue.Release();
            Interlocked.Add(ref _status.RxDropped, _queue.TakeDropped());
        }
        _ringPage.Release();
    }

    private void OnFrames(FrameBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
            _queue.Accept(batch.Frames[i]);
        batch.Release();
        Deliver();
    }

    /// <summary>
    /// After every message: the queue's figures are published, and once no copies or continuation are
    /// under way the notification served, if any, is done with and the port may be unmasked; unless
    /// another came meanwhile (<see cref="RingEventLatch"/>): then the ring is delivered into again, in a
    /// turn of its own. A stopped (disabled) vif's never is.
    /// </summary>
    private void EndTurn()
    {
        var change = _queue.Watch();
        if (change != RxCarrierChange.None)
            Context.Parent.Tell(new VifProtocol.RxStall(Stalled: change == RxCarrierChange.Off));
        var dropped = _queue.TakeDropped();
        if (dropped != 0)
        {
            Interlocked.Add(ref _status.RxDropped, dropped);
            if (_channels.QueueStatus is { } q)
                Interlocked.Add(ref q.RxDropped, dropped);
        }
        var expired = _queue.TakeExpired();
        if (expired != 0)
            Interlocked.Add(ref _status.RxExpired, expired);
        Volatile.Write(ref _status.RxQueued, _queue.Queued);
        ArmWatch();
        if (!_queue.CopyInFlight && !_continuationPending && !_queue.Stopped && !_channels.RxEvents.TryFinish())
            Self.Tell(RingProtocol.RingEvent.Instance);
    }

    /// <summary>
    /// The timer for the queue's next watch, when it has one and no earlier timer is armed: in steady
    /// state (nothing queued between turns, or a timer already armed) no timer is made.
    /// </summary>
    private void ArmWatch()
    {
        if (_queue.UntilWatch() is not { } delay)
            return;
        var time = _settings.Time ?? TimeProvider.System;
        var due = time.GetTimestamp() + (long)(delay.TotalSeconds * time.TimestampFrequency);
        if (_watchDue != 0 && _watchDue <= due)
            return;
        _watchDue = due;
        Timers.StartSingleTimer(RingProtocol.RxWatchDue.Instance, RingProtocol.RxWatchDue.Instance, delay);
    }

    /// <summary>One pass into the posted buffers (see the class's remarks on the budget of a turn).</summary>
    private void Deliver()
    {
        // Held while the daemon re-attaches its vifs at start (RingGate); kicked once it opens.
        if (!_services.RingGate.IsOpen || _queue.CopyInFlight || _continuationPending)
            return;
        switch (_queue.Collect())
        {
            case RxPass.Copy:
                _copies ??= new GrantCopyBatch(_queue.Copies!, Self);
                _hypercall.Tell(_copies);
                break;
            case RxPass.More:
                _continuationPending = true;
                Self.Tell(RingProtocol.DrainContinuation.Instance);
                break;
            case RxPass.Fatal:
                Context.Parent.Tell(new VifProtocol.DisableVif(_queue.Fault!));
                break;
        }
    }

    private void OnCopied(GrantCopyBatch batch)
    {
        if (!ReferenceEquals(batch, _copies))
            return; // copies sent by this actor's previous incarnation: its frames are gone, the requests are used again
        var done = _queue.Complete();
        if (done.Notify)
        {
            _channels.NotifyRx();
            Interlocked.Increment(ref _status.Notifications);
        }
        Interlocked.Add(ref _status.RxPackets, done.Packets);
        Interlocked.Add(ref _status.RxBytes, done.Bytes);
        Volatile.Write(ref _status.RxReqCons, _queue.RequestConsumer);
        Volatile.Write(ref _status.RxRspProd, _queue.ResponseProducer);
        if (_channels.QueueStatus is { } q)
        {
            Interlocked.Add(ref q.RxPackets, done.Packets);
            Interlocked.Add(ref q.RxBytes, done.Bytes);
            Volatile.Write(ref q.RxReqCons, _queue.RequestConsumer);
            Volatile.Write(ref q.RxRspProd, _queue.ResponseProducer);
        }
        Deliver();
    }
}
