using Akka.Actor;
using Akka.Event;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Rings;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Rings;

/// <summary>
/// Drains a vif's TX ring (guest to host): parses the packets, plans their grant copies into pooled
/// buffers, sends ONE batch per drain to the vif's hypercall actor, then answers every consumed request
/// and hands the frames to the bridge port in one message. A fatal protocol error disables the vif: no
/// request is consumed after it, and those already consumed in the drain are still answered.
/// <para>
/// A turn (one message) takes at most one pass over the ring: up to a ring's worth of requests
/// (<see cref="MaxPacketsPerDrain"/> packets, at most as many data slots as the ring has) and one grant-copy
/// batch (at most <see cref="NetifConstants.TxRingSize"/> copies of up to a page). A pass with copies
/// yields by nature (the batch goes to the hypercall actor); one without (errors, multicast control) that
/// may have left more yields with a <see cref="DrainContinuation"/>, so that a guest replaying requests
/// that cost no copy cannot hold its lane's thread from the other guests there.
/// </para>
/// </summary>
public sealed class TxRingActor : ReceiveActor, IWithTimers
{
    private const int MaxPacketsPerDrain = NetifConstants.TxRingSize;

    private readonly VifId _vif;
    private readonly BackendServices _services;
    private readonly RingPage _ringPage;
    private readonly VifChannels _channels;
    private readonly IActorRef _bridgePort;
    private readonly int _ingressPort;
    private readonly RateLimit? _rate;
    private readonly VifStatus _status;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _hypercall;

    // Per-drain state, allocated once, at the first request the ring carries (an idle guest never pays
    // for it: about 36 KiB a vif): the copied requests of every packet of the drain (a drain never holds
    // more slots than the ring has), and what each packet needs once its copies are done.
    private NetifTxRequest[] _slots = null!;
    private PendingPacket[] _pending = null!;
    private int _pendingCount;
    private int _slotsUsed;

    private BackRing<NetifTxRequest, NetifTxResponse> _ring = null!;
    private GrantCopyBatch _batch = null!;
    private bool _copyInFlight;
    private bool _continuationPending;
    private bool _disabled;
    private bool _quiesced;
    private long _credit;
    private bool _waitingForCredit;

    private struct PendingPacket
    {
        public TxPacket Packet;
        public int SlotOffset;
        public int SegmentOffset;
        public int SegmentCount;
        public PacketBuffer? Buffer;
    }

    public TxRingActor(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, IActorRef bridgePort, int ingressPort, RateLimit? rate)
    {
        _vif = vif;
        _services = services;
        _ringPage = ringPage;
        _channels = channels;
        _bridgePort = bridgePort;
        _ingressPort = ingressPort;
        _rate = rate;
        _status = services.Status.GetOrAdd(vif);
        _hypercall = services.Hypercalls.For(vif.DomId).Copier;

        Receive<RingEvent>(e =>
        {
            if (e.IsNotification)
                _channels.TxEvents.Take(_ring.ReadRequestProducer());
            OnEvent();
        });
        Receive<DrainContinuation>(_ => OnContinuation());
        Receive<GrantCopyBatch>(OnCopied);
        Receive<CreditReplenished>(_ => OnCreditReplenished());
        Receive<Quiesce>(_ => _quiesced = true);
        Receive<InjectFault>(f => throw new InvalidOperationException($"injected fault: {f.Reason}"));
        Receive<Stop>(_ => _disabled = true);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, IActorRef bridgePort, int ingressPort, RateLimit? rate) =>
        Akka.Actor.Props.Create(() => new TxRingActor(vif, services, ringPage, channels, bridgePort, ingressPort, rate));

    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        EndTurn();
        return handled;
    }

    protected override void PreStart()
    {
        // A fresh actor, or one restarted after a failure: either way the ring is live and may hold
        // requests, and everything before rsp_prod has been answered, so start there.
        _ring = new BackRing<NetifTxRequest, NetifTxResponse>(_ringPage.Address);
        _ring.AttachAtResponseProducer();
        _credit = _rate is null ? long.MaxValue : (long)_rate.Bytes;
        // A vif disabled before a restart of its tree stays disabled: the ring is never read again.
        _disabled = _status.Disabled;
    }

    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Self.Tell(RingEvent.Instance);
    }

    protected override void PreRestart(Exception reason, object message) =>
        // Not PostStop: the ring page stays held for the next incarnation.
        ReturnPendingBuffers();

    protected override void PostStop()
    {
        ReturnPendingBuffers();
        _ringPage.Release();
    }

    private void OnEvent()
    {
        // Held while the daemon re-attaches its vifs at start (RingGate); kicked once it opens.
        if (!_services.RingGate.IsOpen)
            return;
        if (_disabled || _quiesced)
            return;
        // A drain already under way looks at the ring again when its copy completes, its credit comes
        // back or its continuation arrives.
        if (_copyInFlight || _waitingForCredit || _continuationPending)
            return;
        Drain();
    }

    private void OnContinuation()
    {
        _continuationPending = false;
        OnEvent();
    }

    /// <summary>
    /// After every message: once nothing of the drain is under way (no copy at the hypercall actor, no
    /// continuation, no wait for credit), the notification it served, if any, is done with and the port
    /// may be unmasked. A disabled vif's never is: its guest is not listened to any more, however often it
    /// notifies.
    /// </summary>
    private void EndTurn()
    {
        if (!_copyInFlight && !_continuationPending && !_waitingForCredit && !_disabled)
            _channels.TxEvents.Done();
    }

    /// <summary>One pass over the ring (see the class's remarks on the budget of a turn).</summary>
    private void Drain()
    {
        if (_batch is null)
        {
            if (_ring.ReadRequestProducer() == _ring.RequestConsumer && !_ring.FinalCheckForRequests())
                return;
            _slots = new NetifTxRequest[NetifConstants.TxRingSize + TxPacketParser.ScratchSlots];
            _pending = new PendingPacket[MaxPacketsPerDrain];
            _batch = new GrantCopyBatch(NetifConstants.TxRingSize, Self);
        }
        var reqProd = _ring.ReadRequestProducer();
        var stop = Collect(reqProd, out var partial);
        if (_batch.Count > 0)
        {
            _copyInFlight = true;
            _hypercall.Tell(_batch);
            return;
        }
        if (_pendingCount > 0)
            Complete();
        if (_disabled || _waitingForCredit)
            return;
        if (partial)
        {
            // A packet whose slots are not all pushed stays on the ring; ask to be notified at the
            // frontend's next push, then look once more in case it came meanwhile.
            _ring.SetRequestEvent(unchecked(reqProd + 1));
            Interlocked.MemoryBarrier();
            if (_ring.ReadRequestProducer() != reqProd)
                ContinueNextTurn();
            return;
        }
        // Stopped for a bound (the pass filled up), or more pushed since: the rest at the next turn.
        if (stop || _ring.FinalCheckForRequests())
            ContinueNextTurn();
    }

    private void ContinueNextTurn()
    {
        if (_continuationPending)
            return;
        _continuationPending = true;
        Self.Tell(DrainContinuation.Instance);
    }

    /// <summary>Consumes packets into the pending list until the ring is empty or a bound is hit.</summary>
    /// <returns>True when it stopped for a bound (more may be waiting).</returns>
    private bool Collect(uint reqProd, out bool partial)
    {
        partial = false;
        while (_pendingCount < MaxPacketsPerDrain)
        {
            var scratch = _slots.AsSpan(_slotsUsed);
            if (scratch.Length < TxPacketParser.ScratchSlots)
                return true;
            var packet = TxPacketParser.Parse(_ring, reqProd, scratch);
            switch (packet.Outcome)
            {
                case TxOutcome.Empty:
                    return false;
                case TxOutcome.Partial:
                    partial = true;
                    return false;
                case TxOutcome.Fatal:
                    Disable(packet.Fault);
                    return false;
                case TxOutcome.Error:
                case TxOutcome.MulticastControl:
                    AddPending(packet, buffer: null, segmentCount: 0);
                    continue;
                case TxOutcome.Packet:
                    var segments = TxCopyPlanner.SegmentCount(packet, scratch);
                    if (segments > _batch.Free)
                        return true;
                    if (_rate is not null && !TakeCredit(packet.TotalLength))
                        return true;
                    var buffer = _services.Buffers.Rent(packet.TotalLength);
                    if (!TxCopyPlanner.TryPlan(packet, scratch, _vif.DomId, buffer.Address, buffer.Capacity, _batch.Remaining, out var planned))
                    {
                        buffer.Return();
                        return true;
                    }
                    _batch.Count += planned;
                    AddPending(packet, buffer, planned);
                    continue;
            }
        }
        return true;
    }

    private void AddPending(in TxPacket packet, PacketBuffer? buffer, int segmentCount)
    {
        ref var p = ref _pending[_pendingCount++];
        p.Packet = packet;
        p.SlotOffset = _slotsUsed;
        p.SegmentOffset = _batch.Count - segmentCount;
        p.SegmentCount = segmentCount;
        p.Buffer = buffer;
        _slotsUsed += packet.DataSlots;
        _ring.RequestConsumer = unchecked(_ring.RequestConsumer + (uint)packet.RingSlots);
    }

    private void OnCopied(GrantCopyBatch batch)
    {
        if (!ReferenceEquals(batch, _batch))
            return; // a batch sent by this actor's previous incarnation: its packets were never answered, and are re-read
        _copyInFlight = false;
        Complete();
        if (_disabled || _quiesced)
            return;
        Drain();
    }

    /// <summary>Answers every pending packet in ring order and forwards the good frames.</summary>
    private void Complete()
    {
        var frames = FrameBatch.Rent();
        long packets = 0, bytes = 0, errors = 0;
        for (var i = 0; i < _pendingCount; i++)
        {
            ref var p = ref _pending[i];
            var slots = _slots.AsSpan(p.SlotOffset, p.Packet.DataSlots);
            var status = TxResponder.StatusOf(p.Packet);
            if (p.Buffer is { } buffer)
            {
                if (TxCopyPlanner.Succeeded(_batch.Segments.AsSpan(p.SegmentOffset, p.SegmentCount), out _))
                {
                    buffer.Length = p.Packet.TotalLength;
                    buffer.GsoType = p.Packet.GsoType;
                    buffer.GsoSize = p.Packet.GsoSize;
                    buffer.ChecksumBlank = p.Packet.ChecksumBlank;
                    buffer.DataValidated = p.Packet.DataValidated;
                    buffer.IngressPort = _ingressPort;
                    if (frames.IsFull)
                    {
                        _bridgePort.Tell(frames);
                        frames = FrameBatch.Rent();
                    }
                    frames.Add(buffer);
                    packets++;
                    bytes += buffer.Length;
                }
                else
                {
                    status = NetifResponseStatus.Error;
                    buffer.Return();
                }
                p.Buffer = null;
            }
            if (status != NetifResponseStatus.Okay)
                errors++;
            TxResponder.Respond(_ring, p.Packet, slots, status);
        }
        _pendingCount = 0;
        _slotsUsed = 0;
        _batch.Count = 0;

        if (_ring.PushResponsesAndCheckNotify())
        {
            _channels.NotifyTx();
            Interlocked.Increment(ref _status.Notifications);
        }
        if (frames.Count > 0)
            _bridgePort.Tell(frames);
        else
            frames.Release();

        Interlocked.Add(ref _status.TxPackets, packets);
        Interlocked.Add(ref _status.TxBytes, bytes);
        Interlocked.Add(ref _status.TxErrors, errors);
        Volatile.Write(ref _status.TxReqCons, _ring.RequestConsumer);
        Volatile.Write(ref _status.TxRspProd, _ring.ResponseProducer);
    }

    private void Disable(TxFault fault)
    {
        _disabled = true;
        Context.Parent.Tell(new VifProtocol.DisableVif($"fatal TX ring error: {fault} at request {_ring.RequestConsumer}"));
    }

    /// <summary>Linux netback's credit scheduler: a packet waits until the period's credit covers it.</summary>
    private bool TakeCredit(int length)
    {
        var full = (long)_rate!.Bytes;
        // As Linux's tx_credit_exceeded: a packet larger than the whole credit passes when it is full.
        if (length <= _credit || _credit == full)
        {
            _credit = Math.Max(0, _credit - length);
            return true;
        }
        if (!_waitingForCredit)
        {
            _waitingForCredit = true;
            Timers.StartSingleTimer(CreditReplenished.Instance, CreditReplenished.Instance, TimeSpan.FromTicks((long)_rate.Microseconds * 10));
        }
        return false;
    }

    private void OnCreditReplenished()
    {
        _waitingForCredit = false;
        _credit = (long)_rate!.Bytes;
        if (!_copyInFlight && !_continuationPending && !_disabled && !_quiesced)
            Drain();
    }

    /// <summary>
    /// At a stop or restart: the buffers of the packets not yet answered go back to the pool, through the
    /// batch when a copy may still be writing them (<see cref="GrantCopyBatch.Abandon"/>). The packets
    /// themselves are read again by the next incarnation (it resumes at rsp_prod).
    /// </summary>
    private void ReturnPendingBuffers()
    {
        var abandoned = _copyInFlight ? new List<PacketBuffer>(_pendingCount) : null;
        for (var i = 0; i < _pendingCount; i++)
        {
            if (_pending[i].Buffer is { } buffer)
            {
                if (abandoned is null)
                    buffer.Return();
                else
                    abandoned.Add(buffer);
            }
            _pending[i].Buffer = null;
        }
        _pendingCount = 0;
        if (abandoned is not null)
        {
            _batch.Abandon(abandoned);
            _copyInFlight = false;
        }
    }

    /// <summary>
    /// Makes the actor throw, as a bug in it would: fault-injection for tests of the supervision promise
    /// (a restart of one guest's tree re-attaches to its live rings and nobody else notices).
    /// </summary>
    internal sealed record InjectFault(string Reason);

    /// <summary>The vif was disabled (by a fatal error on either ring): consume no more requests.</summary>
    public sealed class Stop
    {
        public static readonly Stop Instance = new();

        private Stop()
        {
        }
    }

    /// <summary>Stop taking requests (an orderly stop is coming); what is in flight completes.</summary>
    public sealed class Quiesce
    {
        public static readonly Quiesce Instance = new();

        private Quiesce()
        {
        }
    }

    /// <summary>The rate limiter's period has passed.</summary>
    public sealed class CreditReplenished
    {
        public static readonly CreditReplenished Instance = new();

        private CreditReplenished()
        {
        }
    }
}
