using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Actors.Xenbus;
using Backend.Xen.Buffers;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Rings;

/// <summary>
/// Runs a vif's TX ring (guest to host) around its <see cref="TxQueue"/>, which makes every protocol
/// decision: on a notification or a kick the queue takes a pass, the pass's grant copies go to the lane's
/// hypercall actor, and once they are back the queue answers the requests; the frames are forwarded on
/// the vif's bridge port by this actor itself (its <see cref="BridgeForwarder"/>, one message per
/// destination RX actor) or go to the vif's TAP port in one message (<see cref="TxOutlet"/>), and the
/// frontend is notified when ring.h says so. A fatal
/// protocol error found by the queue is reported to the connection actor, which disables the vif.
/// <para>
/// A turn (one message) takes at most one pass (decisions.md, "a ring actor's turn is one pass"). A pass
/// with copies yields by nature; one without that may have left more yields with a
/// <see cref="RingProtocol.DrainContinuation"/>, so that a guest replaying requests that cost no copy
/// cannot hold its lane's thread; one whose head packet waits for credit looks again when a timer says
/// the credit may be there (<see cref="RingProtocol.CreditDue"/>).
/// </para>
/// </summary>
public sealed class TxRingActor : ReceiveActor, IWithTimers
{
    private readonly VifId _vif;
    private readonly BackendServices _services;
    private readonly RingPage _ringPage;
    private readonly VifChannels _channels;
    private readonly TxOutlet _outlet;
    private readonly RateLimit? _rate;
    private readonly VifStatus _status;
    private readonly IActorRef _hypercall;

    private TxQueue _queue = null!;
    // The vif's bridge port's forwarding, used by this actor alone (a new one per incarnation); null under --switch tap.
    private BridgeForwarder? _forwarder;
    // The message that carries the queue's copies to the hypercall actor and back, made at the first pass with copies.
    private GrantCopyBatch? _copies;
    private bool _continuationPending;
    private bool _waitingForCredit;

    public TxRingActor(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, TxOutlet outlet, RateLimit? rate)
    {
        _vif = vif;
        _services = services;
        _ringPage = ringPage;
        _channels = channels;
        _outlet = outlet;
        _rate = rate;
        _status = services.Status.GetOrAdd(vif);
        _hypercall = services.Hypercalls.For(vif.DomId, channels.Queue).Copier;

        Receive<RingProtocol.RingEvent>(e =>
        {
            if (e.IsNotification)
                _channels.TxEvents.Take(_queue.ReadRequestProducer());
            OnEvent();
        });
        Receive<RingProtocol.DrainContinuation>(_ =>
        {
            _continuationPending = false;
            OnEvent();
        });
        Receive<RingProtocol.CreditDue>(_ =>
        {
            _waitingForCredit = false;
            OnEvent();
        });
        Receive<GrantCopyBatch>(OnCopied);
        Receive<RingProtocol.InjectFault>(f => throw new InvalidOperationException($"injected fault: {f.Reason}"));
        Receive<RingProtocol.Stop>(_ => _queue.Stop());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, TxOutlet outlet, RateLimit? rate) =>
        Akka.Actor.Props.Create(() => new TxRingActor(vif, services, ringPage, channels, outlet, rate));

    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        EndTurn();
        return handled;
    }

    protected override void PreStart()
    {
        var credit = _rate is null ? null : new TxCreditScheduler(_rate.Bytes, _rate.Microseconds, TimeProvider.System);
        _queue = new TxQueue(_ringPage.Address, _vif.DomId, _services.Buffers, credit, _status.Multicast);
        if (_outlet.Port is { } port)
            _forwarder = new BridgeForwarder(_outlet.Bridge!, port, _services.Buffers);
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

    private void OnEvent()
    {
        // Held while the daemon re-attaches its vifs at start (RingGate); kicked once it opens.
        if (!_services.RingGate.IsOpen)
            return;
        // A drain already under way looks at the ring again when its copies complete, its credit may be
        // there or its continuation arrives.
        if (_queue.CopyInFlight || _continuationPending || _waitingForCredit)
            return;
        Drain();
    }

    /// <summary>
    /// After every message: once nothing of the drain is under way (no copies away, no continuation, no
    /// wait for credit), the notification it served, if any, is done with and the port may be unmasked;
    /// unless another came meanwhile (<see cref="RingEventLatch"/>): then the ring is drained again, in a
    /// turn of its own. A stopped (disabled) vif's never is: its guest is not listened to any more,
    /// however often it notifies.
    /// </summary>
    private void EndTurn()
    {
        if (!_queue.CopyInFlight && !_continuationPending && !_waitingForCredit && !_queue.Stopped && !_channels.TxEvents.TryFinish())
            Self.Tell(RingProtocol.RingEvent.Instance);
    }

    /// <summary>
    /// One pass over the ring (see the class's remarks on the budget of a turn), unless the orderly stop
    /// has closed the intake: then the ring is not read again, and what is on it waits for the next start.
    /// </summary>
    private void Drain()
    {
        var intake = _services.TxIntake;
        if (!intake.TryEnter())
            return;
        try
        {
            Pass();
        }
        finally
        {
            // The pass's frames are in counted buffers now (away with its copies, or forwarded).
            intake.Exit();
        }
    }

    private void Pass()
    {
        var pass = _queue.Collect();
        if (pass.Fatal)
            Context.Parent.Tell(new VifProtocol.DisableVif(_queue.Fault!));
        if (pass.Copy)
        {
            _copies ??= new GrantCopyBatch(_queue.Copies!, Self);
            _hypercall.Tell(_copies);
            return;
        }
        Answer(_queue.Complete());
        switch (pass.Next)
        {
            case TxNext.More when !_continuationPending:
                _continuationPending = true;
                Self.Tell(RingProtocol.DrainContinuation.Instance);
                break;
            case TxNext.Credit:
                _waitingForCredit = true;
                Timers.StartSingleTimer(RingProtocol.CreditDue.Instance, RingProtocol.CreditDue.Instance, pass.CreditWait);
                break;
        }
    }

    private void OnCopied(GrantCopyBatch batch)
    {
        if (!ReferenceEquals(batch, _copies))
            return; // copies sent by this actor's previous incarnation: their packets were never answered, and are read again
        Answer(_queue.Complete());
        Drain();
    }

    /// <summary>Notifies, forwards the frames and publishes the pass's figures.</summary>
    private void Answer(TxCompletion done)
    {
        if (done.Answered == 0)
            return;
        if (done.Notify)
        {
            _channels.NotifyTx();
            Interlocked.Increment(ref _status.Notifications);
        }
        Forward(done.Frames);
        Interlocked.Add(ref _status.TxPackets, done.Frames.Length);
        Interlocked.Add(ref _status.TxBytes, done.Bytes);
        Interlocked.Add(ref _status.TxErrors, done.Errors);
        if (done.GsoChecksumFixups != 0)
            Interlocked.Add(ref _status.RxGsoChecksumFixup, done.GsoChecksumFixups);
        if (done.FragOverflows != 0)
            Interlocked.Add(ref _status.TxFragOverflow, done.FragOverflows);
        Volatile.Write(ref _status.TxReqCons, _queue.RequestConsumer);
        Volatile.Write(ref _status.TxRspProd, _queue.ResponseProducer);
        if (_channels.QueueStatus is { } q)
        {
            Interlocked.Add(ref q.TxPackets, done.Frames.Length);
            Interlocked.Add(ref q.TxBytes, done.Bytes);
            Volatile.Write(ref q.TxReqCons, _queue.RequestConsumer);
            Volatile.Write(ref q.TxRspProd, _queue.ResponseProducer);
        }
    }

    /// <summary>
    /// The frames of a pass forwarded on the vif's bridge port, here and now; or to its TAP port in one
    /// message (a pass holds at most one batch's worth).
    /// </summary>
    private void Forward(ReadOnlySpan<PacketBuffer> frames)
    {
        if (_forwarder is not null)
        {
            _forwarder.Forward(frames);
            return;
        }
        while (!frames.IsEmpty)
        {
            var batch = FrameBatch.Rent();
            var count = Math.Min(frames.Length, FrameBatch.MaxFrames);
            foreach (var frame in frames[..count])
                batch.Add(frame);
            _outlet.Actor!.Tell(batch);
            frames = frames[count..];
        }
    }
}
