using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Grants;
using Backend.Xen.Rings;

namespace Backend.Xen.Netback;

/// <summary>
/// The transmit half of a vif's queue (guest to host): Linux's <c>xenvif_queue</c> with
/// <c>xenvif_tx_build_gops</c> and <c>xenvif_tx_submit</c>, FreeBSD's <c>xnb_send</c>. It owns the back
/// ring, the scratch of copied requests, the packets of the pass and their grant copies, and strings the
/// packet functions together: <see cref="Collect"/> takes one pass over the ring (parse, take credit, plan
/// the copies into pooled buffers); once the copies have run, <see cref="Complete"/> reads their status,
/// answers every consumed request in ring order, pushes, and hands over the frames that arrived whole.
/// No I/O: the caller runs the copies, notifies and forwards.
/// <para>
/// A pass takes at most a ring's worth (decisions.md, "a ring actor's turn is one pass"):
/// <see cref="MaxPacketsPerPass"/> packets, at most as many data slots as the ring has, and one set of
/// copies (at most <see cref="NetifConstants.TxRingSize"/> of up to a page). A fatal protocol error stops
/// the queue: nothing after it is consumed, and what the pass consumed before it is still answered.
/// </para>
/// Not thread-safe: one owner at a time (a ring actor); only the copies may run elsewhere.
/// </summary>
public sealed class TxQueue
{
    public const int MaxPacketsPerPass = NetifConstants.TxRingSize;

    private readonly BackRing<NetifTxRequest, NetifTxResponse> _ring;
    private readonly ushort _frontendDomId;
    private readonly PacketBufferPool _buffers;
    private readonly TxCreditScheduler? _credit;
    private readonly MulticastFilter _multicast;

    // Allocated at the first request the ring carries (an idle guest never pays for them: about 38 KiB a
    // vif): the copied requests of every packet of the pass (a pass never holds more slots than the ring
    // has), what each packet needs once its copies are done, and the frames handed over.
    private NetifTxRequest[] _slots = null!;
    private PendingPacket[] _pending = null!;
    private PacketBuffer[] _frames = null!;
    private GrantCopyOps? _copies;
    private int _pendingCount;
    private int _slotsUsed;
    private int _frameCount;
    private bool _copying;

    private struct PendingPacket
    {
        public TxPacket Packet;
        public int SlotOffset;
        public int SegmentOffset;
        public int SegmentCount;
        public PacketBuffer? Buffer;
        // The data slots' status before any copy: ERROR for an invalid packet or a refused multicast add.
        public short Status;
    }

    /// <summary>Why a pass ended.</summary>
    private enum PassEnd
    {
        Empty,
        Partial,
        Bound,
        Credit,
        Fatal,
    }

    /// <param name="ringPage">The mapped TX ring page, valid for the queue's life.</param>
    /// <param name="frontendDomId">The frontend's domain, owner of the grant references.</param>
    /// <param name="buffers">Where the frames' buffers come from.</param>
    /// <param name="credit">The vif's <c>rate</c>, if it has one.</param>
    /// <param name="multicast">
    /// The vif's multicast filter, which MCAST_ADD/MCAST_DEL extras amend (shared by the vif's queues and
    /// read by whoever delivers frames to it); null gives the queue one of its own, so that the answers
    /// are still Linux's.
    /// </param>
    public TxQueue(nint ringPage, ushort frontendDomId, PacketBufferPool buffers, TxCreditScheduler? credit = null, MulticastFilter? multicast = null)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        _ring = new BackRing<NetifTxRequest, NetifTxResponse>(ringPage);
        // A fresh queue, or one after a restart of its owner: either way the ring is live and may hold
        // requests, and everything before rsp_prod has been answered, so start there.
        _ring.AttachAtResponseProducer();
        _frontendDomId = frontendDomId;
        _buffers = buffers;
        _credit = credit;
        _multicast = multicast ?? new MulticastFilter();
    }

    public uint RequestConsumer => _ring.RequestConsumer;

    public uint ResponseProducer => _ring.ResponseProducer;

    /// <summary>The copies of the pass; null until the ring first carried a request.</summary>
    public GrantCopyOps? Copies => _copies;

    /// <summary>A pass's copies are out: <see cref="Complete"/> comes before the next <see cref="Collect"/>.</summary>
    public bool CopyInFlight => _copying;

    /// <summary>No request is consumed any more: after a fatal error, <see cref="Stop"/> or <see cref="Release"/>.</summary>
    public bool Stopped { get; private set; }

    /// <summary>What the fatal error was, once there was one (for the log and the vif's status).</summary>
    public string? Fault { get; private set; }

    /// <summary>The frontend's req_prod as it is now (for the event channel's spurious-event check).</summary>
    public uint ReadRequestProducer() => _ring.ReadRequestProducer();

    /// <summary>The vif was disabled (by a fatal error on either ring): consume no more requests.</summary>
    public void Stop() => Stopped = true;

    /// <summary>Takes one pass over the ring (see the class's remarks on its bounds).</summary>
    public TxPass Collect()
    {
        if (_copying)
            throw new InvalidOperationException("a pass is taken only once the previous pass's copies are complete");
        if (Stopped)
            return default;
        if (_copies is null)
        {
            if (_ring.ReadRequestProducer() == _ring.RequestConsumer && !_ring.FinalCheckForRequests())
                return default;
            _slots = new NetifTxRequest[NetifConstants.TxRingSize + TxPacketParser.ScratchSlots];
            _pending = new PendingPacket[MaxPacketsPerPass];
            _frames = new PacketBuffer[MaxPacketsPerPass];
            _copies = new GrantCopyOps(NetifConstants.TxRingSize);
        }
        var reqProd = _ring.ReadRequestProducer();
        var end = Consume(reqProd);
        var fatal = end == PassEnd.Fatal;
        if (_copies.Count > 0)
        {
            _copying = true;
            return new TxPass(Copy: true, TxNext.Idle, fatal, default);
        }
        return end switch
        {
            PassEnd.Fatal => new TxPass(Copy: false, TxNext.Idle, Fatal: true, default),
            PassEnd.Credit => new TxPass(Copy: false, TxNext.Credit, Fatal: false, _credit!.Wait),
            PassEnd.Partial => new TxPass(Copy: false, AfterPartial(reqProd), Fatal: false, default),
            // Stopped at a bound (the pass filled up), or more pushed since: the rest at another pass.
            _ => new TxPass(Copy: false, end == PassEnd.Bound || _ring.FinalCheckForRequests() ? TxNext.More : TxNext.Idle, Fatal: false, default),
        };
    }

    /// <summary>
    /// A packet whose slots are not all pushed stays on the ring (SIMXEN): ask to be notified at the
    /// frontend's next push, then look once more in case it came meanwhile.
    /// </summary>
    private TxNext AfterPartial(uint reqProd)
    {
        _ring.SetRequestEvent(unchecked(reqProd + 1));
        return _ring.ReadRequestProducer() != reqProd ? TxNext.More : TxNext.Idle;
    }

    /// <summary>Consumes packets into the pending list until the ring is empty or a bound is hit.</summary>
    private PassEnd Consume(uint reqProd)
    {
        while (_pendingCount < MaxPacketsPerPass)
        {
            var scratch = _slots.AsSpan(_slotsUsed);
            if (scratch.Length < TxPacketParser.ScratchSlots)
                return PassEnd.Bound;
            var packet = TxPacketParser.Parse(_ring, reqProd, scratch);
            switch (packet.Outcome)
            {
                case TxOutcome.Empty:
                    return PassEnd.Empty;
                case TxOutcome.Partial:
                    return PassEnd.Partial;
                case TxOutcome.Fatal:
                    Stopped = true;
                    Fault = $"fatal TX ring error: {packet.Fault} at request {_ring.RequestConsumer}";
                    return PassEnd.Fatal;
                case TxOutcome.Error:
                    AddPending(packet, buffer: null, segmentCount: 0);
                    continue;
                case TxOutcome.MulticastControl:
                    // Applied as it is consumed, as Linux does, and answered with the pass. (A restart of the
                    // owner before the answer reads it again: an add then counts twice, as a repeated one.)
                    AddPending(packet, buffer: null, segmentCount: 0, _multicast.Apply(packet));
                    continue;
                case TxOutcome.Packet:
                    var segments = TxCopyPlanner.SegmentCount(packet, scratch);
                    if (segments > _copies!.Free)
                        return PassEnd.Bound;
                    if (_credit is not null && !_credit.TryTake(packet.TotalLength))
                        return PassEnd.Credit;
                    var buffer = _buffers.Rent(packet.TotalLength);
                    if (!TxCopyPlanner.TryPlan(packet, scratch, _frontendDomId, buffer.Address, buffer.Capacity, _copies.Remaining, out var planned))
                    {
                        buffer.Return();
                        return PassEnd.Bound;
                    }
                    _copies.Count += planned;
                    AddPending(packet, buffer, planned);
                    continue;
            }
        }
        return PassEnd.Bound;
    }

    private void AddPending(in TxPacket packet, PacketBuffer? buffer, int segmentCount, short? status = null)
    {
        ref var p = ref _pending[_pendingCount++];
        p.Packet = packet;
        p.Status = status ?? TxResponder.StatusOf(packet);
        p.SlotOffset = _slotsUsed;
        p.SegmentOffset = _copies!.Count - segmentCount;
        p.SegmentCount = segmentCount;
        p.Buffer = buffer;
        _slotsUsed += packet.DataSlots;
        _ring.RequestConsumer = unchecked(_ring.RequestConsumer + (uint)packet.RingSlots);
    }

    /// <summary>
    /// Answers every packet of the pass in ring order, once its copies (if any) have run: a packet one of
    /// whose copies failed is answered ERROR in every data slot and its frame dropped, as Linux's
    /// <c>xenvif_tx_check_gop</c>; the others are handed over.
    /// </summary>
    public TxCompletion Complete()
    {
        _copying = false;
        if (_pendingCount == 0)
            return default;
        _frames.AsSpan(0, _frameCount).Clear();
        _frameCount = 0;
        long bytes = 0;
        var errors = 0;
        var fixups = 0;
        var overflows = 0;
        for (var i = 0; i < _pendingCount; i++)
        {
            ref var p = ref _pending[i];
            var slots = _slots.AsSpan(p.SlotOffset, p.Packet.DataSlots);
            var status = p.Status;
            if (p.Buffer is { } buffer)
            {
                if (TxCopyPlanner.Succeeded(_copies!.Segments.AsSpan(p.SegmentOffset, p.SegmentCount), out _))
                {
                    buffer.Length = p.Packet.TotalLength;
                    buffer.GsoType = p.Packet.GsoType;
                    buffer.GsoSize = p.Packet.GsoSize;
                    buffer.ChecksumBlank = p.Packet.ChecksumBlank;
                    buffer.DataValidated = p.Packet.DataValidated;
                    _frames[_frameCount++] = buffer;
                    bytes += buffer.Length;
                    if (p.Packet.NeedsGsoChecksumFixup)
                        fixups++;
                    if (p.Packet.OverflowsSkbFrags)
                        overflows++;
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
        var answered = _pendingCount;
        _pendingCount = 0;
        _slotsUsed = 0;
        _copies!.Count = 0;
        var notify = _ring.PushResponsesAndCheckNotify();
        return new TxCompletion(_frames.AsSpan(0, _frameCount), notify, answered, bytes, errors, fixups, overflows);
    }

    /// <summary>
    /// At a stop or restart of the owner: the buffers of the packets not yet answered go back to the pool,
    /// through the copies when they may still be written (<see cref="GrantCopyOps.Abandon"/>). The packets
    /// themselves are read again by the next queue on this ring (it resumes at rsp_prod). The queue takes
    /// no pass after this.
    /// </summary>
    public void Release()
    {
        Stopped = true;
        var abandoned = _copying ? new List<PacketBuffer>(_pendingCount) : null;
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
            _copies!.Abandon(abandoned);
            _copying = false;
        }
    }
}
