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
/// </summary>
internal sealed class RxRingActor : ReceiveActor
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

    public RxRingActor(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, RxQueueSettings settings)
    {
        _services = services;
        _ringPage = ringPage;
        _channels = channels;
        _settings = settings;
        _status = services.Status.GetOrAdd(vif);
        _hypercall = services.Hypercalls.For(vif.DomId).Copier;

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
        Receive<GrantCopyBatch>(OnCopied);
        Receive<RingProtocol.InjectFault>(f => throw new InvalidOperationException($"injected fault: {f.Reason}"));
        Receive<RingProtocol.Stop>(_ => _queue.Stop());
    }

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
        Self.Tell(RingProtocol.RingEvent.Instance);
        _status.RingReattached();
    }

    protected override void PreRestart(Exception reason, object message) =>
        // Not PostStop: the ring page stays held for the next incarnation.
        _queue.Release();

    protected override void PostStop()
    {
        _queue?.Release();
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
        var dropped = _queue.TakeDropped();
        if (dropped != 0)
            Interlocked.Add(ref _status.RxDropped, dropped);
        Volatile.Write(ref _status.RxQueued, _queue.Queued);
        if (!_queue.CopyInFlight && !_continuationPending && !_queue.Stopped && !_channels.RxEvents.TryFinish())
            Self.Tell(RingProtocol.RingEvent.Instance);
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
        Deliver();
    }
}
