using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Grants;
using Backend.Xen.Offload;
using Backend.Xen.Rings;

namespace Backend.Xen.Netback;

/// <summary>
/// The receive half of a vif's queue (host to guest): Linux's <c>xenvif_queue</c> with
/// <c>xenvif_rx_queue_tail</c> and <c>xenvif_rx_action</c>, FreeBSD's <c>xnb_recv</c>. Frames are taken
/// (<see cref="Accept"/>) after the offloads the frontend did not negotiate are done here, as Linux's
/// stack does for a vif (software GSO, checksums filled in), and wait in a queue bounded in frames and
/// bytes (decision 21); beyond it they are dropped and counted, so one slow guest never holds the others
/// back. <see cref="Collect"/> plans as many queued frames as the posted requests take into one set of
/// grant copies; once they have run, <see cref="Complete"/> answers the requests in their own slots and
/// pushes. No I/O: the caller runs the copies and notifies.
/// <para>
/// A pass plans at most <see cref="MaxPacketsPerPass"/> frames and one set of copies. A pass that finds
/// too few requests posted for the head frame sets req_event and asks for another pass only if req_prod
/// moved meanwhile (Linux's <c>xenvif_rx_ring_slots_available</c>), so a frontend that keeps moving
/// req_prod without ever leaving room costs one pass per turn of its owner, never a loop.
/// </para>
/// <para>
/// A frontend that stops posting buffers (Linux's <c>rx_stall_timeout</c>, <c>rx_drain_timeout</c>): each
/// frame is dropped once it has been queued for the drain timeout, and a frame that waits for buffers when
/// none has been planned for the stall timeout stalls the queue; the owner turns the carrier off, and the
/// queue drops every frame that comes until the frontend posts again (<see cref="Watch"/>, decision 76).
/// The owner calls <see cref="Watch"/> after each turn and again within <see cref="UntilWatch"/>.
/// </para>
/// Not thread-safe: one owner at a time (a ring actor); only the copies may run elsewhere.
/// </summary>
public sealed class RxQueue
{
    public const int MaxPacketsPerPass = NetifConstants.RxRingSize;

    private readonly BackRing<NetifRxRequest, NetifRxResponse> _ring;
    private readonly RxQueueSettings _settings;
    private readonly PacketBufferPool _buffers;
    private readonly TimeProvider _time;
    // The timeouts in the clock's timestamp units; 0: not applied.
    private readonly long _stallTicks;
    private readonly long _drainTicks;

    // Allocated at the first frame for this vif: an idle guest never pays for them (about 34 KiB a vif).
    private PacketBuffer?[] _queue = null!;
    // When each queued frame expires (Linux's XENVIF_RX_CB(skb)->expires), by the queue's slot.
    private long[] _expires = null!;
    private int _queueHead;
    private int _queueCount;
    // Bytes of the queued frames, counted as Linux counts skb->len.
    private long _queueBytes;

    private PacketBuffer?[] _inFlightFrames = null!;
    private RxPacket[] _inFlight = null!;
    private int _inFlightCount;
    private GrantCopyOps? _copies;
    private bool _copying;
    private long _dropped;
    // The last plan stopped at a frame the receive credit did not cover (RxCredit).
    private bool _creditShort;
    // The head frame waits for buffers: the last pass found too few posted for it, and none was planned since.
    private bool _waiting;
    // Linux's last_rx_time: when a frame was last planned, the carrier came back, or the queue began.
    private long _lastProgress;
    // A frame was planned since the queue stalled: the frontend posts again.
    private bool _plannedSinceStall;
    private long _expired;

    /// <param name="ringPage">The mapped RX ring page, valid for the queue's life.</param>
    /// <param name="settings">The frontend's features and the queue's bounds.</param>
    /// <param name="buffers">Where the segments of software GSO come from.</param>
    public RxQueue(nint ringPage, RxQueueSettings settings, PacketBufferPool buffers)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(buffers);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxFrames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.CopyBatchSize, 1);
        _ring = new BackRing<NetifRxRequest, NetifRxResponse>(ringPage);
        // Everything before rsp_prod has been answered (by this queue's predecessor, if any).
        _ring.AttachAtResponseProducer();
        _settings = settings;
        _buffers = buffers;
        _time = settings.Time ?? TimeProvider.System;
        _stallTicks = Ticks(settings.StallTimeout);
        _drainTicks = Ticks(settings.DrainTimeout);
        _lastProgress = _time.GetTimestamp();
    }

    private long Ticks(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        return timeout == TimeSpan.Zero ? 0 : Math.Max(1, (long)(timeout.TotalSeconds * _time.TimestampFrequency));
    }

    public uint RequestConsumer => _ring.RequestConsumer;

    public uint ResponseProducer => _ring.ResponseProducer;

    /// <summary>Frames waiting in the queue or in the copies of a pass.</summary>
    public int Queued => _queueCount + _inFlightCount;

    /// <summary>Bytes of the frames waiting in the queue.</summary>
    public long QueuedBytes => _queueBytes;

    /// <summary>The copies of the pass; null until the first frame came.</summary>
    public GrantCopyOps? Copies => _copies;

    /// <summary>A pass's copies are out: <see cref="Complete"/> comes before the next <see cref="Collect"/>.</summary>
    public bool CopyInFlight => _copying;

    /// <summary>The vif was disabled: everything queued was dropped, and every frame that comes is.</summary>
    public bool Stopped { get; private set; }

    /// <summary>
    /// The frontend left frames waiting for buffers for the stall timeout (Linux's <c>queue->stalled</c>):
    /// the carrier is off and every frame that comes is dropped, until it posts again.
    /// </summary>
    public bool Stalled { get; private set; }

    /// <summary>What the fatal error was, once there was one (for the log and the vif's status).</summary>
    public string? Fault { get; private set; }

    /// <summary>The frontend's req_prod as it is now (for the event channel's spurious-event check).</summary>
    public uint ReadRequestProducer() => _ring.ReadRequestProducer();

    /// <summary>Frames dropped since the last call (the caller adds them to the vif's count).</summary>
    public long TakeDropped()
    {
        var dropped = _dropped;
        _dropped = 0;
        return dropped;
    }

    /// <summary>Of the frames dropped, those that expired in the queue (the drain timeout), since the last call.</summary>
    public long TakeExpired()
    {
        var expired = _expired;
        _expired = 0;
        return expired;
    }

    /// <summary>Takes a frame (the caller's buffer becomes the queue's), after the offloads the frontend did not negotiate.</summary>
    public void Accept(PacketBuffer frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        // A stalled queue's carrier is off: what still comes (sent before the senders knew) is dropped at once,
        // not held for the drain timeout, which is why Linux turns the carrier off at all.
        if (Stopped || Stalled)
        {
            Drop(frame);
            return;
        }
        if (frame.GsoType != NetifGsoType.None && !(frame.GsoType == NetifGsoType.TcpV4 ? _settings.Frontend.GsoTcpV4 : _settings.Frontend.GsoTcpV6))
        {
            Segment(frame);
            return;
        }
        // A VLAN-tagged frame is IPv4 or IPv6 by the EtherType behind its tag, as the fill reads it.
        if (frame.ChecksumBlank && !(FrameLayout.IsIpv6(frame.Frame) ? _settings.Frontend.Ipv6ChecksumOffload : _settings.Frontend.Ipv4ChecksumOffload))
        {
            ChecksumOffload.FillBlank(frame.Frame);
            frame.ChecksumBlank = false;
            frame.DataValidated = true;
        }
        Enqueue(frame);
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
                _dropped += plan.SegmentCount - i;
                break;
            }
            var segment = _buffers.Rent(plan.SegmentLength(i));
            segment.Length = TcpSegmenter.WriteSegment(frame.Frame, plan, i, segment.Span);
            segment.DataValidated = true;
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
        _queue = new PacketBuffer?[_settings.MaxFrames];
        _expires = new long[_settings.MaxFrames];
        _inFlightFrames = new PacketBuffer?[MaxPacketsPerPass];
        _inFlight = new RxPacket[MaxPacketsPerPass];
        // A 65535-byte frame is 17 slots (18 after an XDP headroom of 256) and, from a buffer not aligned to pages, up to twice as many segments.
        _copies = new GrantCopyOps(_settings.CopyBatchSize);
    }

    private void Enqueue(PacketBuffer frame)
    {
        EnsureQueue();
        // Without feature-sg a frontend takes one page per frame, after its XDP headroom (Linux netback drops the rest too).
        if (QueueFull || (!_settings.Frontend.ScatterGather && frame.Length > NetifConstants.PageSize - _settings.Frontend.XdpHeadroom))
        {
            Drop(frame);
            return;
        }
        var slot = (_queueHead + _queueCount) % _queue.Length;
        _queue[slot] = frame;
        _expires[slot] = _drainTicks == 0 ? long.MaxValue : _time.GetTimestamp() + _drainTicks;
        _queueCount++;
        _queueBytes += frame.Length;
    }

    /// <summary>
    /// No frame is taken: the queue holds its count of frames, or its bytes reach the bound (a frame is
    /// taken while they are below it, as Linux's xenvif_rx_queue_tail does).
    /// </summary>
    private bool QueueFull => _queueCount == _queue.Length || _queueBytes >= _settings.MaxBytes;

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
        _dropped++;
        frame.Return();
    }

    /// <summary>Plans one pass of queued frames into the posted requests (see the class's remarks).</summary>
    public RxPass Collect()
    {
        if (_copying)
            throw new InvalidOperationException("a pass is taken only once the previous pass's copies are complete");
        // A pass that only drops frames goes on: each drop leaves the queue a frame shorter.
        while (!Stopped && _queueCount > 0)
        {
            var reqProd = _ring.ReadRequestProducer();
            if (_ring.RequestProducerOverflow(reqProd))
            {
                Fault = $"impossible RX req_prod {reqProd} (req_cons {_ring.RequestConsumer})";
                Stop();
                return RxPass.Fatal;
            }
            var noSpace = Plan(reqProd);
            if (_inFlightCount > 0)
            {
                _lastProgress = _time.GetTimestamp();
                _copying = true;
                return RxPass.Copy;
            }
            if (_creditShort)
            {
                // The head frame waits for the next period's credit: the owner is woken then.
                _settings.Credit!.WakeWhenDue();
                return RxPass.Idle;
            }
            if (!noSpace)
            {
                // Room on the ring, yet nothing planned: the head frame needs more copies than an empty
                // set holds, and always will.
                if (_queueCount > 0)
                    Drop(Dequeue());
                continue;
            }
            // Too few buffers posted for the head frame (some may be): as Linux's
            // xenvif_rx_ring_slots_available, ask to be told of the next request and look again only if
            // the frontend posted one meanwhile, and then at another pass: looking again in this one
            // while req_prod stands still, or moves without ever leaving room, would spin for as long as
            // the frontend wishes. The head frame now waits on the frontend (Watch's stall check).
            _waiting = true;
            _ring.SetRequestEvent(unchecked(reqProd + 1));
            return _ring.ReadRequestProducer() != reqProd ? RxPass.More : RxPass.Idle;
        }
        return RxPass.Idle;
    }

    /// <returns>True when it stopped because the frontend has too few requests posted.</returns>
    private bool Plan(uint reqProd)
    {
        var copies = _copies!;
        var count = copies.Count;
        var credit = _settings.Credit;
        // Read once a pass: a change over the control ring applies from the next pass on.
        var hash = _settings.Hash?.Current;
        _creditShort = false;
        while (_queueCount > 0 && _inFlightCount < MaxPacketsPerPass)
        {
            var frame = _queue[_queueHead]!;
            if (credit is not null && !credit.Covers(frame.Length))
            {
                _creditShort = true;
                break;
            }
            var checksum = frame.ChecksumBlank ? FrameChecksum.Blank : frame.DataValidated ? FrameChecksum.Validated : FrameChecksum.None;
            var hashed = false;
            uint hashValue = 0;
            byte hashType = 0;
            if (hash is { Hashing: true })
                hashed = hash.TryHashFrame(frame.Frame, out hashValue, out hashType);
            var rxFrame = new RxFrame(frame.Address, frame.Length, frame.GsoType, frame.GsoSize, checksum, hashed, hashValue, hashType);
            switch (RxSlotPlanner.Plan(rxFrame, _ring, reqProd, out var packet, _settings.Frontend.XdpHeadroom))
            {
                case RxPlanStatus.NoSpace:
                    copies.Count = count;
                    return true;
                case RxPlanStatus.Invalid:
                    Drop(Dequeue());
                    continue;
            }
            if (!RxCopyPlanner.TryPlan(rxFrame, ref packet, _ring, _settings.FrontendDomId, copies.Segments, ref count))
                break;
            Dequeue();
            // Linux's last_rx_time: a frame planned is the frontend taking frames.
            _waiting = false;
            _plannedSinceStall = true;
            credit?.Take(frame.Length);
            _inFlight[_inFlightCount] = packet;
            _inFlightFrames[_inFlightCount] = frame;
            _inFlightCount++;
        }
        copies.Count = count;
        return false;
    }

    /// <summary>
    /// Answers the planned frames once their copies have run, each in its own slots (a frame whose copy
    /// failed gets ERROR in every slot it took, decision 4), pushes, then returns their buffers: a frame
    /// holds its buffer until the frontend can see it, which the orderly stop counts on (no buffer out
    /// means nothing left to deliver).
    /// </summary>
    public RxCompletion Complete()
    {
        _copying = false;
        if (_inFlightCount == 0)
            return default;
        RxResponder.RespondAll(_inFlight.AsSpan(0, _inFlightCount), _copies!.Used, _ring);
        long bytes = 0;
        for (var i = 0; i < _inFlightCount; i++)
            bytes += _inFlight[i].Size;
        var packets = _inFlightCount;
        var notify = _ring.PushResponsesAndCheckNotify();
        ReturnInFlight();
        _copies.Count = 0;
        return new RxCompletion(notify, packets, bytes);
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

    /// <summary>
    /// After a turn of the owner, and when <see cref="UntilWatch"/> says: drops the frames queued for the
    /// drain timeout (Linux's <c>xenvif_rx_queue_drop_expired</c>), then says whether the queue stalled (its
    /// head frame waits for buffers and none has been planned for the stall timeout: <c>xenvif_rx_queue_stalled</c>) or
    /// a stalled queue's frontend posts again (<c>xenvif_rx_queue_ready</c>: a frame was planned, or, with
    /// none queued, a request is posted). A stalled queue with nothing queued asks to be told of the next
    /// request (req_event), so that the notification brings the owner back here.
    /// </summary>
    public RxCarrierChange Watch()
    {
        if (Stopped)
            return RxCarrierChange.None;
        var now = _time.GetTimestamp();
        while (_queueCount > 0 && _expires[_queueHead] <= now)
        {
            _expired++;
            Drop(Dequeue());
        }
        if (_queueCount == 0)
            _waiting = false;
        if (Stalled)
        {
            if (!_plannedSinceStall && !(_queueCount == 0 && RequestPosted()))
                return RxCarrierChange.None;
            Stalled = false;
            // As Linux's xenvif_queue_carrier_on: the stall clock starts again.
            _lastProgress = now;
            return RxCarrierChange.On;
        }
        if (_stallTicks == 0 || !_waiting || now - _lastProgress < _stallTicks)
            return RxCarrierChange.None;
        Stalled = true;
        _waiting = false;
        _plannedSinceStall = false;
        return RxCarrierChange.Off;
    }

    /// <summary>
    /// How soon <see cref="Watch"/> has something to do though nothing else happens (the head frame expires,
    /// the stall timeout runs out); null when only a frame or a notification can change anything.
    /// </summary>
    public TimeSpan? UntilWatch()
    {
        if (Stopped)
            return null;
        var due = long.MaxValue;
        if (_queueCount > 0)
            due = _expires[_queueHead];
        if (_waiting && !Stalled && _stallTicks != 0)
            due = Math.Min(due, _lastProgress + _stallTicks);
        if (due == long.MaxValue)
            return null;
        var now = _time.GetTimestamp();
        return due <= now ? TimeSpan.Zero : _time.GetElapsedTime(now, due);
    }

    /// <summary>Whether a request is posted; if not, the frontend's next one will notify (as xenvif_rx_ring_slots_available).</summary>
    private bool RequestPosted()
    {
        var reqProd = _ring.ReadRequestProducer();
        if (reqProd != _ring.RequestConsumer)
            return true;
        _ring.SetRequestEvent(unchecked(reqProd + 1));
        return _ring.ReadRequestProducer() != reqProd;
    }

    /// <summary>The vif was disabled: drop what is queued (counted) and everything that comes.</summary>
    public void Stop()
    {
        Stopped = true;
        while (_queueCount > 0)
            Drop(Dequeue());
    }

    /// <summary>
    /// At a stop or restart of the owner: the queued frames go back to the pool, and those of copies still
    /// away through them, once no copy can read them any more (<see cref="GrantCopyOps.Abandon"/>). The
    /// queue takes no pass after this. Those frames are lost to the guest and counted as dropped
    /// (<see cref="TakeDropped"/>): its owner adds them to the vif's count, as for any other drop.
    /// </summary>
    public void Release()
    {
        Stopped = true;
        while (_queueCount > 0)
            Drop(Dequeue());
        if (!_copying)
        {
            ReturnInFlight();
            return;
        }
        _dropped += _inFlightCount;
        var abandoned = new List<PacketBuffer>(_inFlightCount);
        for (var i = 0; i < _inFlightCount; i++)
        {
            if (_inFlightFrames[i] is { } frame)
                abandoned.Add(frame);
            _inFlightFrames[i] = null;
        }
        _inFlightCount = 0;
        _copies!.Abandon(abandoned);
        _copying = false;
    }
}
