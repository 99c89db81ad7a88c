using Akka.Actor;
using Backend.Actors.Hypercall;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Ctrl;
using Backend.Xen.Grants;
using Backend.Xen.Rings;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Ctrl;

/// <summary>
/// Serves a vif's control ring, as Linux netback's <c>xenvif_ctrl_action</c>: each request is copied out of
/// the ring once and handed to the vif's <see cref="CtrlRequestHandler"/>, which answers it at once or asks
/// for one grant copy from the frontend (a hash key, a run of the mapping table); that copy goes to the
/// vif's lane's hypercall actor as the ring actors' copies do (<see cref="GrantCopyBatch"/>), into scratch
/// memory from the packet-buffer pool, and the request is answered when it comes back. One request at a
/// time, one response each, pushed and notified as ring.h says. The actor runs on the control path (the
/// default dispatcher), not on a lane: a frontend's ctrl requests never hold up a lane's rings.
/// <para>
/// An impossible <c>req_prod</c> (more requests than the ring holds) disables the vif, as the data rings'
/// does (Linux does not check). A turn serves at most a ring's worth of requests, then yields
/// (<see cref="RingProtocol.DrainContinuation"/>). A restart resumes at the shared <c>rsp_prod</c>: a request
/// consumed but not answered (its copy away) is read and served again.
/// </para>
/// </summary>
internal sealed class CtrlRingActor : ReceiveActor
{
    private const int MaxRequestsPerTurn = NetifConstants.CtrlRingSize;

    private readonly BackendServices _services;
    private readonly RingPage _ringPage;
    private readonly CtrlChannel _channel;
    private readonly CtrlRequestHandler _handler;
    private readonly VifStatus _status;
    private readonly IActorRef _hypercall;

    private BackRing<NetifCtrlRequest, NetifCtrlResponse> _ring = null!;
    private PacketBuffer _scratch = null!;
    private GrantCopyOps _ops = null!;
    private GrantCopyBatch _batch = null!;
    // The request whose copy is away.
    private NetifCtrlRequest _pending;
    private bool _copying;
    private bool _continuationPending;
    private bool _stopped;

    public CtrlRingActor(VifId vif, BackendServices services, RingPage ringPage, CtrlChannel channel, CtrlRequestHandler handler)
    {
        _services = services;
        _ringPage = ringPage;
        _channel = channel;
        _handler = handler;
        _status = services.Status.GetOrAdd(vif);
        _hypercall = services.Hypercalls.For(vif.DomId).Copier;

        Receive<RingProtocol.RingEvent>(e =>
        {
            if (e.IsNotification)
                _channel.Events.Take(_ring.ReadRequestProducer());
            Drain();
        });
        Receive<RingProtocol.DrainContinuation>(_ =>
        {
            _continuationPending = false;
            Drain();
        });
        Receive<GrantCopyBatch>(OnCopied);
        Receive<RingProtocol.InjectFault>(f => throw new InvalidOperationException($"injected fault: {f.Reason}"));
    }

    public static Props Props(VifId vif, BackendServices services, RingPage ringPage, CtrlChannel channel, CtrlRequestHandler handler) =>
        Akka.Actor.Props.Create(() => new CtrlRingActor(vif, services, ringPage, channel, handler));

    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        // Nothing of the drain under way: done with the notification, unless another came meanwhile.
        if (!_copying && !_continuationPending && !_stopped && !_channel.Events.TryFinish())
            Self.Tell(RingProtocol.RingEvent.Instance);
        return handled;
    }

    protected override void PreStart()
    {
        _ring = new BackRing<NetifCtrlRequest, NetifCtrlResponse>(_ringPage.Address);
        // Everything before rsp_prod has been answered (by this actor's predecessor, if any).
        _ring.AttachAtResponseProducer();
        _scratch = _services.Buffers.Rent(CtrlRequestHandler.ScratchSize);
        _ops = new GrantCopyOps(1);
        _batch = new GrantCopyBatch(_ops, Self);
    }

    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Self.Tell(RingProtocol.RingEvent.Instance);
    }

    protected override void PreRestart(Exception reason, object message) =>
        // Not PostStop: the ring page stays held for the next incarnation.
        ReleaseScratch();

    protected override void PostStop()
    {
        ReleaseScratch();
        _ringPage.Release();
    }

    /// <summary>The scratch memory goes back to the pool once no copy can write it (GrantCopyOps.Abandon).</summary>
    private void ReleaseScratch()
    {
        if (_scratch is null)
            return;
        if (_copying)
            _ops.Abandon([_scratch]);
        else
            _scratch.Return();
        _scratch = null!;
        _copying = false;
    }

    private void Drain()
    {
        // Held while the daemon re-attaches its vifs at start (RingGate); kicked once it opens.
        if (_stopped || _copying || _continuationPending || !_services.RingGate.IsOpen)
            return;
        var served = 0;
        do
        {
            var reqProd = _ring.ReadRequestProducer();
            if (_ring.RequestProducerOverflow(reqProd))
            {
                _stopped = true;
                Context.Parent.Tell(new VifProtocol.DisableVif($"impossible ctrl req_prod {reqProd} (req_cons {_ring.RequestConsumer})"));
                return;
            }
            while (_ring.RequestConsumer != reqProd)
            {
                if (served == MaxRequestsPerTurn)
                {
                    _continuationPending = true;
                    Self.Tell(RingProtocol.DrainContinuation.Instance);
                    return;
                }
                // RING_COPY_REQUEST: the one read of the slot; only the copy is looked at.
                var request = _ring.CopyRequest(_ring.RequestConsumer);
                _ring.RequestConsumer++;
                served++;
                if (_handler.Begin(request, _scratch.Address, out var copy, out var response))
                {
                    _pending = request;
                    _ops.Segments[0] = copy;
                    _ops.Count = 1;
                    _copying = true;
                    _hypercall.Tell(_batch);
                    return;
                }
                Respond(response);
            }
        }
        // As xenvif_ctrl_action: req_event = req_cons + 1, then look again.
        while (_ring.FinalCheckForRequests());
    }

    private void OnCopied(GrantCopyBatch batch)
    {
        if (!ReferenceEquals(batch, _batch) || !_copying)
            return; // a copy of this actor's previous incarnation: its request is read again
        _copying = false;
        _ops.Count = 0;
        Respond(_handler.Complete(_pending, _ops.Segments[0], _scratch.Span[..CtrlRequestHandler.ScratchSize]));
        Drain();
    }

    private void Respond(in NetifCtrlResponse response)
    {
        _ring.WriteResponse(_ring.ResponseProducer, response);
        _ring.ResponseProducer++;
        Interlocked.Increment(ref _status.CtrlRequests);
        if (response.Status != NetifCtrlStatus.Success)
            Interlocked.Increment(ref _status.CtrlRequestsRefused);
        if (_ring.PushResponsesAndCheckNotify())
            _channel.Notify();
    }
}
