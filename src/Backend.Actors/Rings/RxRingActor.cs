using Akka.Actor;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Netback;
using Backend.Xen.Offload;
using Backend.Xen.Rings;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Rings;

/// <summary>
/// Delivers frames to a vif's RX ring (host to guest). Frames arrive in batches from bridge ports and wait
/// in a queue bounded in frames (SIMXEN: at least 512) and bytes (BackendOptions.RxQueueBytesFor); when
/// full, new ones are dropped and counted, so that one slow guest never holds the others back. On a batch
/// or a notification that the frontend posted buffers, it plans as many frames as the posted requests
/// take, copies them in ONE grant-copy batch, answers the requests in their own slots, pushes, and
/// notifies when ring.h says so.
/// <para>
/// A turn (one message) plans at most one pass into the posted requests (up to
/// <see cref="MaxPacketsPerDrain"/> frames and one grant-copy batch), which yields by nature when it has
/// copies; a pass that found too few requests posted looks again only at its next turn (a
/// <see cref="DrainContinuation"/>), so a frontend that keeps moving <c>req_prod</c> without ever leaving
/// room cannot hold its lane's thread.
/// </para>
/// </summary>
public sealed class RxRingActor : ReceiveActor
{
    private const int MaxPacketsPerDrain = NetifConstants.RxRingSize;

    private readonly VifId _vif;
    private readonly BackendServices _services;
    private readonly RingPage _ringPage;
    private readonly VifChannels _channels;
    private readonly RxRingSettings _settings;
    private readonly VifStatus _status;
    private readonly IActorRef _hypercall;
    // The queue and the per-drain state are allocated at the first frame for this vif: an idle guest
    // never pays for them (about 30 KiB a vif).
    private PacketBuffer?[] _queue = null!;
    private int _queueHead;
    private int _queueCount;
    // Bytes of the queued frames, bounded as Linux's rx_queue_len (BackendOptions.RxQueueBytesFor).
    private long _queueBytes;
    private long _maxQueueBytes;

    private PacketBuffer?[] _inFlightFrames = null!;
    private RxPacket[] _inFlight = null!;
    private int _inFlightCount;

    private BackRing<NetifRxRequest, NetifRxResponse> _ring = null!;
    private GrantCopyBatch _batch = null!;
    private bool _copyInFlight;
    private bool _continuationPending;
    private bool _stopped;

    public RxRingActor(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, RxRingSettings settings)
    {
        _vif = vif;
        _services = services;
        _ringPage = ringPage;
        _channels = channels;
        _settings = settings;
        _status = services.Status.GetOrAdd(vif);
        _hypercall = services.Hypercalls.For(vif.DomId).Copier;

        Receive<FrameBatch>(OnFrames);
        Receive<RingEvent>(e =>
        {
            if (e.IsNotification)
                _channels.RxEvents.Take(_ring.ReadRequestProducer());
            Deliver();
        });
        Receive<DrainContinuation>(_ => OnContinuation());
        Receive<GrantCopyBatch>(OnCopied);
        Receive<Stop>(_ => OnStop());
    }

    public static Props Props(VifId vif, BackendServices services, RingPage ringPage, VifChannels channels, RxRingSettings settings) =>
        Akka.Actor.Props.Create(() => new RxRingActor(vif, services, ringPage, channels, settings));

    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        EndTurn();
        return handled;
    }

    protected override void PreStart()
    {
        _ring = new BackRing<NetifRxRequest, NetifRxResponse>(_ringPage.Address);
        _ring.AttachAtResponseProducer();
        // A vif disabled before a restart of its tree stays disabled: the ring is never read again.
        _stopped = _status.Disabled;
    }

    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Self.Tell(RingEvent.Instance);
    }

    protected override void PreRestart(Exception reason, object message) =>
        // Not PostStop: the ring page stays held for the next incarnation.
        ReturnFrames();

    protected override void PostStop()
    {
        ReturnFrames();
        _ringPage.Release();
    }

    /// <summary>
    /// At a stop or restart: the queued frames go back to the pool, and those of a copy still in flight
    /// through the batch, once the copy can no longer read them (<see cref="GrantCopyBatch.Abandon"/>).
    /// </summary>
    private void ReturnFrames()
    {
        while (_queueCount > 0)
            Dequeue().Return();
        if (!_copyInFlight)
        {
            ReturnInFlight();
            return;
        }
        var abandoned = new List<PacketBuffer>(_inFlightCount);
        for (var i = 0; i < _inFlightCount; i++)
        {
            if (_inFlightFrames[i] is { } frame)
                abandoned.Add(frame);
            _inFlightFrames[i] = null;
        }
        _inFlightCount = 0;
        _batch.Abandon(abandoned);
        _copyInFlight = false;
    }

    private void OnFrames(FrameBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
            Accept(batch.Frames[i]);
        batch.Release();
        Deliver();
    }

    /// <summary>Takes a frame into the queue, after the offloads the frontend did not negotiate.</summary>
    private void Accept(PacketBuffer frame)
    {
        if (_stopped)
        {
            Drop(frame);
            return;
        }
        var frontend = _settings.Frontend;
        if (frame.GsoType != NetifGsoType.None && !(frame.GsoType == NetifGsoType.TcpV4 ? frontend.GsoTcpV4 : frontend.GsoTcpV6))
        {
            Segment(frame);
            return;
        }
        if (frame.ChecksumBlank && !ChecksumOffloadFor(frame, frontend))
        {
            ChecksumOffload.FillBlank(frame.Frame);
            frame.ChecksumBlank = false;
            frame.DataValidated = true;
        }
        Enqueue(frame);
    }

    private static bool ChecksumOffloadFor(PacketBuffer frame, FrontendConfig frontend)
    {
        // A VLAN-tagged frame is IPv4 or IPv6 by the EtherType behind its tag, as the fill reads it.
        return FrameLayout.IsIpv6(frame.Frame) ? frontend.Ipv6ChecksumOffload : frontend.Ipv4ChecksumOffload;
    }

    /// <summary>Software GSO, as Linux's stack does for a vif without the feature (SIMXEN "Frames").</summary>
    private void Segment(PacketBuffer frame)
    {
        if (TcpSegmenter.Prepare(frame.Frame, frame.GsoType, frame.GsoSize, out var plan) != SegmentationStatus.Ok)
        {
            Drop(frame);
            return;
        }
        EnsureQueue();
        for (var i = 0; i < plan.SegmentCount; i++)
        {
            // Segments the queue has no room for are counted as dropped, not built only to be dropped.
            if (QueueFull)
            {
                Interlocked.Add(ref _status.RxDropped, plan.SegmentCount - i);
                break;
            }
            var segment = _services.Buffers.Rent(plan.SegmentLength(i));
            segment.Length = TcpSegmenter.WriteSegment(frame.Frame, plan, i, segment.Span);
            segment.DataValidated = true;
            segment.IngressPort = frame.IngressPort;
            if (segment.Length > _settings.Mtu + NetifConstants.EthernetHeaderLength)
                Drop(segment);
            else
                Enqueue(segment);
        }
        frame.Return();
    }

    private void EnsureQueue()
    {
        if (_queue is not null)
            return;
        _queue = new PacketBuffer?[_services.Options.RxQueueLength];
        _maxQueueBytes = _services.Options.RxQueueBytesFor(_settings.Mtu, _settings.Frontend.TakesGso);
        _inFlightFrames = new PacketBuffer?[MaxPacketsPerDrain];
        _inFlight = new RxPacket[MaxPacketsPerDrain];
        // A 65535-byte frame is 17 slots and, from a buffer not aligned to pages, up to 34 segments.
        _batch = new GrantCopyBatch(_services.Options.CopyBatchSize, Self);
    }

    private void Enqueue(PacketBuffer frame)
    {
        EnsureQueue();
        // Without feature-sg a frontend takes one page per frame (Linux netback drops the rest too).
        if (QueueFull || (!_settings.Frontend.ScatterGather && frame.Length > NetifConstants.PageSize))
        {
            Drop(frame);
            return;
        }
        _queue[(_queueHead + _queueCount) % _queue.Length] = frame;
        _queueCount++;
        _queueBytes += frame.Length;
    }

    /// <summary>
    /// No frame is taken: the queue holds its count of frames, or its bytes reach the bound (a frame is
    /// taken while they are below it, as Linux's xenvif_rx_queue_tail does).
    /// </summary>
    private bool QueueFull => _queueCount == _queue.Length || _queueBytes >= _maxQueueBytes;

    private PacketBuffer Dequeue()
    {
        var frame = _queue[_queueHead]!;
        _queue[_queueHead] = null;
        _queueHead = (_queueHead + 1) % _queue.Length;
        _queueCount--;
        _queueBytes -= frame.Length;
        return frame;
    }

    private void Drop(PacketBuffer frame)
    {
        Interlocked.Increment(ref _status.RxDropped);
        frame.Return();
    }

    private void Deliver()
    {
        DeliverQueued();
        Volatile.Write(ref _status.RxQueued, _queueCount + _inFlightCount);
    }

    private void OnContinuation()
    {
        _continuationPending = false;
        Deliver();
    }

    /// <summary>
    /// After every message: once no copy or continuation is under way, the notification served, if any,
    /// is done with and the port may be unmasked. A stopped (disabled) vif's never is.
    /// </summary>
    private void EndTurn()
    {
        if (!_copyInFlight && !_continuationPending && !_stopped)
            _channels.RxEvents.Done();
    }

    private void DeliverQueued()
    {
        // Held while the daemon re-attaches its vifs at start (RingGate); kicked once it opens. A pass that
        // only drops frames goes on in the same turn: each drop leaves the queue a frame shorter.
        while (!_copyInFlight && !_continuationPending && !_stopped && _queueCount > 0 && _services.RingGate.IsOpen)
        {
            var reqProd = _ring.ReadRequestProducer();
            if (_ring.RequestProducerOverflow(reqProd))
            {
                Context.Parent.Tell(new VifProtocol.DisableVif($"impossible RX req_prod {reqProd} (req_cons {_ring.RequestConsumer})"));
                OnStop();
                return;
            }
            var noSpace = Plan(reqProd);
            if (_inFlightCount > 0)
            {
                _copyInFlight = true;
                _hypercall.Tell(_batch);
                return;
            }
            if (!noSpace)
            {
                // Room on the ring, yet nothing planned: the head frame needs more copies than an empty
                // batch holds, and always will.
                if (_queueCount > 0)
                    Drop(Dequeue());
                continue;
            }
            // Too few buffers posted for the head frame (some may be): as Linux's
            // xenvif_rx_ring_slots_available, ask to be told of the next request and look again only if
            // the frontend posted one meanwhile, and then at the next turn: looking again in this one
            // while req_prod stands still, or moves without ever leaving room, would spin this lane's
            // thread for as long as the frontend wishes.
            _ring.SetRequestEvent(unchecked(reqProd + 1));
            if (_ring.ReadRequestProducer() != reqProd)
            {
                _continuationPending = true;
                Self.Tell(DrainContinuation.Instance);
            }
            return;
        }
    }

    /// <returns>True when it stopped because the frontend has too few requests posted.</returns>
    private bool Plan(uint reqProd)
    {
        var count = _batch.Count;
        while (_queueCount > 0 && _inFlightCount < MaxPacketsPerDrain)
        {
            var frame = _queue[_queueHead]!;
            var checksum = frame.ChecksumBlank ? FrameChecksum.Blank : frame.DataValidated ? FrameChecksum.Validated : FrameChecksum.None;
            var rxFrame = new RxFrame(frame.Address, frame.Length, frame.GsoType, frame.GsoSize, checksum);
            switch (RxSlotPlanner.Plan(rxFrame, _ring, reqProd, out var packet))
            {
                case RxPlanStatus.NoSpace:
                    _batch.Count = count;
                    return true;
                case RxPlanStatus.Invalid:
                    Drop(Dequeue());
                    continue;
            }
            if (!RxCopyPlanner.TryPlan(rxFrame, ref packet, _ring, _settings.FrontendDomId, _batch.Segments, ref count))
                break;
            Dequeue();
            _inFlight[_inFlightCount] = packet;
            _inFlightFrames[_inFlightCount] = frame;
            _inFlightCount++;
        }
        _batch.Count = count;
        return false;
    }

    private void OnCopied(GrantCopyBatch batch)
    {
        if (!ReferenceEquals(batch, _batch))
            return;
        _copyInFlight = false;
        RxResponder.RespondAll(_inFlight.AsSpan(0, _inFlightCount), _batch.Used, _ring);
        long bytes = 0;
        for (var i = 0; i < _inFlightCount; i++)
            bytes += _inFlight[i].Size;
        Interlocked.Add(ref _status.RxPackets, _inFlightCount);
        Interlocked.Add(ref _status.RxBytes, bytes);
        ReturnInFlight();
        _batch.Count = 0;
        if (_ring.PushResponsesAndCheckNotify())
        {
            _channels.NotifyRx();
            Interlocked.Increment(ref _status.Notifications);
        }
        Volatile.Write(ref _status.RxReqCons, _ring.RequestConsumer);
        Volatile.Write(ref _status.RxRspProd, _ring.ResponseProducer);
        Deliver();
    }

    private void ReturnInFlight()
    {
        for (var i = 0; i < _inFlightCount; i++)
        {
            _inFlightFrames[i]?.Return();
            _inFlightFrames[i] = null;
        }
        _inFlightCount = 0;
    }

    private void OnStop()
    {
        _stopped = true;
        while (_queueCount > 0)
            Drop(Dequeue());
    }

    /// <summary>The vif was disabled: drop what is queued and everything that comes.</summary>
    public sealed class Stop
    {
        public static readonly Stop Instance = new();

        private Stop()
        {
        }
    }
}
