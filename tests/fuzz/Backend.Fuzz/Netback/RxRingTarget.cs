using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backend.Fuzz.Rings;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Offload;
using Backend.Xen.Rings;

namespace Backend.Fuzz.Netback;

/// <summary>
/// The RX side's packet functions (<see cref="RxSlotPlanner.Plan(in RxFrame, BackRing{NetifRxRequest, NetifRxResponse}, uint, out RxPacket)"/>,
/// <see cref="RxCopyPlanner"/>, <see cref="RxResponder"/>) with rx requests whose ids, grant references
/// and req_prod the input writes, and frames of any length, GSO type and size, checksum state and place
/// in local memory; drained as <see cref="RxSlotPlanner"/>'s example drains (once the queue glue is in
/// Backend.Xen this target drives that instead).
/// </summary>
/// <remarks>
/// Invariants: an impossible req_prod disables the vif and nothing is consumed after it; Plan refuses
/// exactly the invalid frames, touches nothing, and takes ceil(length/4096) data slots plus one for a GSO
/// extra, only when that many are posted; TryPlan consumes exactly the packet's slots (or nothing, when
/// the batch is full); every copy lands in its request's granted page (offset + length ≤ 4096), comes
/// from inside the frame without crossing a local page, and the copies of a slot are the slot's share of
/// the frame; every consumed request is answered exactly once, in its own slot, with the id of the one
/// read of it, the byte count (or ERROR when a copy failed), the more_data chain and the GSO extra; a
/// request rewritten after it was read changes nothing; nothing is written outside the ring page; the
/// drain allocates nothing.
/// </remarks>
public sealed unsafe class RxRingTarget : FuzzTarget
{
    private const ushort FrontendDomId = 9;
    private const int RingSize = 256;
    // Small, so that a full batch is flushed mid-drain.
    private const int BatchSegments = 40;
    private const int MaxQueued = 64;
    private const int PageSize = NetifConstants.PageSize;
    // Frames may start anywhere in the first page of this buffer and run to RxPacket.MaxFrameLength and past it.
    private const int FrameMemoryLength = 2 * PageSize + (RxPacket.MaxFrameLength + PageSize) / PageSize * PageSize;

    private readonly NetifRxRequest[] _seen = new NetifRxRequest[RingSize];
    private readonly GrantCopySegment[] _batch = new GrantCopySegment[BatchSegments];
    private readonly RxPacket[] _packets = new RxPacket[RingSize];
    private readonly RxFrame[] _queue = new RxFrame[MaxQueued];
    // The grant references each planned packet's requests held when they were read, RxPacket.MaxDataSlots a packet.
    private readonly uint[] _grefs = new uint[RingSize * RxPacket.MaxDataSlots];

    private GuardedRingPage _page = null!;
    private BackRing<NetifRxRequest, NetifRxResponse> _ring = null!;
    private nint _frameMemory;
    private uint _writer;
    private int _queueHead;
    private int _queueCount;
    private int _batchUsed;
    private int _packetCount;
    private byte _failModulus;
    private byte _scribble;
    private bool _disabled;

    public override string Name => "rx";

    /// <summary>What the input can do, one byte each (modulo <see cref="Count"/>), followed by its operands.</summary>
    public static class Op
    {
        /// <summary>Count byte (1 + n%32), mode byte (bit 0: ids from the input, else the slot's index), then per request [id u16] gref byte; pushed.</summary>
        public const int Post = 0;
        /// <summary>req_prod = u32.</summary>
        public const int RequestProducer = 1;
        /// <summary>req_prod = rsp_prod + u16 % 520.</summary>
        public const int Replay = 2;
        /// <summary>A frame: length u16 plus 65536 × (byte &amp; 1), GSO type byte % 4, GSO size u16, checksum byte % 4, place u16 % 4096.</summary>
        public const int Frame = 3;
        public const int Drain = 4;
        /// <summary>Copies whose grant reference is a multiple of the byte fail (0: none).</summary>
        public const int CopyFailures = 5;
        /// <summary>While copies are in flight the frontend rewrites the consumed requests with this byte (0: it does not).</summary>
        public const int ScribbleInFlight = 6;
        /// <summary>rsp_event = u32.</summary>
        public const int ResponseEvent = 7;
        public const int Count = 8;
    }

    protected override void Execute(ReadOnlySpan<byte> input)
    {
        _page = new GuardedRingPage(sizeof(NetifRxRequest));
        _frameMemory = (nint)NativeMemory.AlignedAlloc(FrameMemoryLength, PageSize);
        try
        {
            _ring = new BackRing<NetifRxRequest, NetifRxResponse>(_page.Address);
            _ring.AttachAtResponseProducer();
            _writer = 0;
            _queueHead = _queueCount = _batchUsed = _packetCount = 0;
            _failModulus = _scribble = 0;
            _disabled = false;

            var script = new FuzzInput(input);
            while (!script.IsEmpty)
                Step(ref script);
            DrainChecked();
            _page.CheckCanaries();
        }
        finally
        {
            _page.Dispose();
            NativeMemory.AlignedFree((void*)_frameMemory);
        }
    }

    private void Step(ref FuzzInput script)
    {
        switch (script.Byte() % Op.Count)
        {
            case Op.Post:
            {
                var n = 1 + (script.Byte() % 32);
                var rawIds = (script.Byte() & 1) != 0;
                for (var i = 0; i < n; i++)
                {
                    var id = rawIds ? script.UInt16() : (ushort)_writer;
                    _page.Write(_writer, new NetifRxRequest { Id = id, Gref = script.Byte() });
                    _writer++;
                }
                Volatile.Write(ref _page.Header.ReqProd, _writer);
                break;
            }
            case Op.RequestProducer:
                Volatile.Write(ref _page.Header.ReqProd, script.UInt32());
                break;
            case Op.Replay:
                Volatile.Write(ref _page.Header.ReqProd, unchecked(_page.Header.RspProd + (uint)(script.UInt16() % 520)));
                break;
            case Op.Frame:
            {
                var length = script.UInt16() + ((script.Byte() & 1) << 16);
                var gsoType = (byte)(script.Byte() % 4);
                var gsoSize = script.UInt16();
                var checksum = (FrameChecksum)(script.Byte() % 4);
                var place = script.UInt16() % PageSize;
                if (_queueCount < MaxQueued)
                    _queue[(_queueHead + _queueCount++) % MaxQueued] = new RxFrame(_frameMemory + place, length, gsoType, gsoSize, checksum);
                break;
            }
            case Op.Drain:
                DrainChecked();
                break;
            case Op.CopyFailures:
                _failModulus = script.Byte();
                break;
            case Op.ScribbleInFlight:
                _scribble = script.Byte();
                break;
            case Op.ResponseEvent:
                Volatile.Write(ref _page.Header.RspEvent, script.UInt32());
                break;
        }
    }

    private void DrainChecked()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        Drain();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (IsWarm && allocated != 0)
            throw new InvariantException($"an RX drain allocated {allocated} bytes");
        if (_ring.RequestConsumer != _ring.ResponseProducer)
            throw new InvariantException($"drain ended with req_cons {_ring.RequestConsumer} and rsp_prod_pvt {_ring.ResponseProducer}");
        if (Volatile.Read(ref _page.Header.RspProd) != _ring.ResponseProducer)
            throw new InvariantException("drain ended with responses not pushed");
    }

    private void Drain()
    {
        if (_disabled)
            return;
        var reqProd = _ring.ReadRequestProducer();
        if (_ring.RequestProducerOverflow(reqProd))
        {
            // Fatal for the vif: nothing more is consumed (the queue glue disables it).
            _disabled = true;
            return;
        }
        var noSpace = false;
        while (_queueCount > 0)
        {
            ref readonly var frame = ref _queue[_queueHead];
            var start = _ring.RequestConsumer;
            MemoryMarshal.Cast<byte, NetifRxRequest>(_page.Entries).CopyTo(_seen);
            var available = _ring.UnconsumedRequests(reqProd);

            var status = RxSlotPlanner.Plan(frame, _ring, reqProd, out var packet);

            if (_ring.RequestConsumer != start || !_page.Entries.SequenceEqual(MemoryMarshal.AsBytes(_seen.AsSpan())))
                throw new InvariantException("Plan touched the ring");
            var expected = ExpectedStatus(frame, available, out var dataSlots);
            if (status != expected)
                throw new InvariantException($"Plan said {status} for a frame of {frame.Length} bytes (GSO {frame.GsoType}/{frame.GsoSize}, checksum {frame.Checksum}) with {available} requests: expected {expected}");
            if (status == RxPlanStatus.NoSpace)
            {
                noSpace = true;
                break;
            }
            if (status == RxPlanStatus.Invalid)
            {
                Dequeue();
                continue;
            }
            if (packet.Start != start || packet.DataSlots != dataSlots || packet.HasExtra != frame.IsGso || packet.Size != frame.Length
                || (uint)packet.Slots > available || packet.DataSlots > RxPacket.MaxDataSlots)
                throw new InvariantException($"Plan took {packet.DataSlots} data slots (extra {packet.HasExtra}) at {packet.Start} for {frame.Length} bytes");

            var used = _batchUsed;
            if (!RxCopyPlanner.TryPlan(frame, ref packet, _ring, FrontendDomId, _batch, ref _batchUsed))
            {
                if (_ring.RequestConsumer != start || _batchUsed != used)
                    throw new InvariantException("a refused TryPlan consumed or planned something");
                if (_batchUsed == 0)
                    throw new InvariantException("a frame does not fit an empty batch");
                Flush();
                if (!RxCopyPlanner.TryPlan(frame, ref packet, _ring, FrontendDomId, _batch, ref _batchUsed))
                    throw new InvariantException("a frame does not fit an empty batch");
            }
            if (_ring.RequestConsumer != packet.End)
                throw new InvariantException($"TryPlan left req_cons at {_ring.RequestConsumer}, the packet ends at {packet.End}");
            CheckSegments(frame, packet, _grefs.AsSpan(_packetCount * RxPacket.MaxDataSlots, RxPacket.MaxDataSlots));
            if (_scribble != 0)
            {
                for (var i = 0u; i < (uint)packet.Slots; i++)
                    _page.Entry(packet.Start + i).Fill(_scribble);
            }
            _packets[_packetCount++] = packet;
            Dequeue();
            if (_packetCount == _packets.Length)
                Flush();
        }
        Flush();
        if (noSpace)
            _ring.SetRequestEvent(unchecked(reqProd + 1));
    }

    private void Dequeue()
    {
        _queueHead = (_queueHead + 1) % MaxQueued;
        _queueCount--;
    }

    /// <summary>What Plan must answer, by SIMXEN's rules for frames, worked out here.</summary>
    private static RxPlanStatus ExpectedStatus(in RxFrame frame, uint available, out int dataSlots)
    {
        dataSlots = 0;
        if (frame.Length <= 0 || frame.Length > RxPacket.MaxFrameLength
            || frame.GsoType > NetifGsoType.TcpV6 || (frame.GsoType != NetifGsoType.None && frame.GsoSize == 0)
            || frame.Checksum > FrameChecksum.Validated)
            return RxPlanStatus.Invalid;
        dataSlots = (frame.Length + PageSize - 1) / PageSize;
        var slots = dataSlots + (frame.IsGso ? 1 : 0);
        return (uint)slots > available ? RxPlanStatus.NoSpace : RxPlanStatus.Ok;
    }

    private void CheckSegments(in RxFrame frame, in RxPacket packet, Span<uint> readGrefs)
    {
        var segment = packet.FirstSegment;
        var end = packet.FirstSegment + packet.SegmentCount;
        if (end != _batchUsed)
            throw new InvariantException("the packet's segments are not the batch's last");
        nint source = frame.Address;
        for (var slot = 0; slot < packet.DataSlots; slot++)
        {
            var request = _seen[packet.DataSlotIndex(slot) & 255];
            readGrefs[slot] = request.Gref;
            if (packet.RequestIds[slot] != request.Id)
                throw new InvariantException($"data slot {slot} keeps id {packet.RequestIds[slot]}, the request said {request.Id}");
            var share = Math.Min(PageSize, frame.Length - slot * PageSize);
            var offset = 0;
            while (offset < share)
            {
                if (segment >= end)
                    throw new InvariantException($"data slot {slot} short of copies: {offset} of {share} bytes");
                ref readonly var s = ref _batch[segment++];
                if (s.Flags != GrantCopySegment.DestGref || s.Dest.DomId != FrontendDomId || s.Dest.Ref != request.Gref)
                    throw new InvariantException($"a copy to gref {s.Dest.Ref}, the request granted {request.Gref}");
                if (s.Dest.Offset != offset || s.Length == 0 || s.Dest.Offset + s.Length > PageSize)
                    throw new InvariantException($"a copy outside its granted page: {s.Dest.Offset}+{s.Length}");
                if (s.Source.Virt != source || (s.Source.Virt & (PageSize - 1)) + s.Length > PageSize)
                    throw new InvariantException("a copy from elsewhere than the frame, or across a local page");
                offset += s.Length;
                source += s.Length;
            }
            if (offset != share)
                throw new InvariantException($"data slot {slot} gets {offset} bytes for its {share}");
        }
        if (segment != end || source != frame.Address + frame.Length)
            throw new InvariantException("the copies are not exactly the frame");
    }

    /// <summary>Runs the batch's copies, answers every planned packet, pushes, and checks each response.</summary>
    private void Flush()
    {
        for (var i = 0; i < _batchUsed; i++)
            _batch[i].Status = Fails(_batch[i].Dest.Ref) ? GrantStatus.BadGntref : GrantStatus.Okay;
        var responses = RxResponder.RespondAll(_packets.AsSpan(0, _packetCount), _batch.AsSpan(0, _batchUsed), _ring);
        var slots = 0;
        for (var p = 0; p < _packetCount; p++)
            slots += _packets[p].Slots;
        if (responses != slots)
            throw new InvariantException($"{responses} responses for {slots} consumed requests");
        _ring.PushResponsesAndCheckNotify();
        for (var p = 0; p < _packetCount; p++)
            CheckResponses(_packets[p], _grefs.AsSpan(p * RxPacket.MaxDataSlots, RxPacket.MaxDataSlots));
        _packetCount = 0;
        _batchUsed = 0;
    }

    private void CheckResponses(in RxPacket packet, ReadOnlySpan<uint> readGrefs)
    {
        // Whether a copy failed, worked out here from the grants the requests named.
        var failed = false;
        for (var slot = 0; slot < packet.DataSlots; slot++)
            failed |= Fails(readGrefs[slot]);
        for (var slot = 0; slot < packet.DataSlots; slot++)
        {
            var response = _page.Read<NetifRxResponse>(packet.DataSlotIndex(slot));
            var share = Math.Min(PageSize, packet.Size - slot * PageSize);
            var flags = (NetRxFlags)response.Flags;
            if (response.Id != packet.RequestIds[slot] || response.Offset != 0
                || response.Status != (failed ? NetifResponseStatus.Error : share))
                throw new InvariantException($"data slot {slot} answered id {response.Id} offset {response.Offset} status {response.Status}");
            if ((flags & NetRxFlags.MoreData) != 0 != (slot < packet.DataSlots - 1))
                throw new InvariantException($"data slot {slot} of {packet.DataSlots}: more_data is {(flags & NetRxFlags.MoreData) != 0}");
            if ((flags & NetRxFlags.ExtraInfo) != 0 != (slot == 0 && packet.HasExtra))
                throw new InvariantException($"data slot {slot}: extra_info is {(flags & NetRxFlags.ExtraInfo) != 0}");
            if (failed && (flags & (NetRxFlags.CsumBlank | NetRxFlags.DataValidated)) != 0)
                throw new InvariantException("a failed packet's response claims checksum state");
        }
        if (packet.HasExtra)
        {
            var slot = _page.Read<NetifRxResponse>(packet.Start + 1);
            var extra = Unsafe.As<NetifRxResponse, NetifExtraInfo>(ref slot);
            if (extra.Type != NetifExtraType.Gso || extra.GsoSize != packet.GsoSize || extra.GsoType != packet.GsoType || extra.Flags != 0)
                throw new InvariantException($"the GSO extra says type {extra.Type} size {extra.GsoSize} gso type {extra.GsoType}");
        }
    }

    private bool Fails(uint gref) => _failModulus != 0 && gref % _failModulus == 0;

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return Post(new FuzzScript(), 4).Byte(Op.Frame).UInt16(60).Byte(0).Byte(0).UInt16(0).Byte(0).UInt16(0)
            .Byte(Op.Drain).Seed("one-small-frame");
        yield return Post(new FuzzScript(), 20).Byte(Op.Frame).UInt16(9014).Byte(0).Byte(0).UInt16(0).Byte(1).UInt16(100)
            .Byte(Op.Frame).UInt16(4096).Byte(0).Byte(0).UInt16(0).Byte(2).UInt16(4000).Byte(Op.Drain).Seed("jumbo-and-page");
        yield return Post(new FuzzScript(), 32).Byte(Op.Frame).UInt16(RxPacket.MaxFrameLength & 0xFFFF).Byte(RxPacket.MaxFrameLength >> 16)
            .Byte(NetifGsoType.TcpV4).UInt16(1448).Byte(1).UInt16(7).Byte(Op.Drain).Seed("largest-gso-frame");
        yield return Post(new FuzzScript(), 2).Byte(Op.Frame).UInt16(9000).Byte(0).Byte(0).UInt16(0).Byte(0).UInt16(0)
            .Byte(Op.Drain).Byte(Op.Post).Byte(7).Byte(0).Bytes(new byte[8]).Byte(Op.Drain).Seed("no-space-then-posted");
        yield return Post(new FuzzScript(), 8).Byte(Op.Frame).UInt16(0).Byte(0).Byte(0).UInt16(0).Byte(0).UInt16(0)
            .Byte(Op.Frame).UInt16(1000).Byte(0).Byte(NetifGsoType.TcpV6).UInt16(0).Byte(0).UInt16(0)
            .Byte(Op.Frame).UInt16(1000).Byte(0).Byte(3).UInt16(1000).Byte(0).UInt16(0)
            .Byte(Op.Frame).UInt16(1000).Byte(1).Byte(0).UInt16(0).Byte(3).UInt16(0).Byte(Op.Drain).Seed("invalid-frames");
        var hostileIds = new FuzzScript().Byte(Op.Post).Byte(5).Byte(1);
        for (var i = 0; i < 6; i++)
            hostileIds.UInt16(0xFFFF).Byte(13);
        yield return hostileIds.Byte(Op.CopyFailures).Byte(13).Byte(Op.ScribbleInFlight).Byte(0x77)
            .Byte(Op.Frame).UInt16(5000).Byte(0).Byte(0).UInt16(0).Byte(1).UInt16(4095).Byte(Op.Drain).Seed("same-ids-failed-copy-scribbled");
        yield return new FuzzScript().Byte(Op.RequestProducer).UInt32(300).Byte(Op.Frame).UInt16(60).Byte(0).Byte(0).UInt16(0).Byte(0).UInt16(0)
            .Byte(Op.Drain).Seed("req-prod-overflow");
        var replay = Post(new FuzzScript(), 8);
        for (var i = 0; i < 12; i++)
            replay.Byte(Op.Frame).UInt16(60).Byte(0).Byte(0).UInt16(0).Byte(0).UInt16(0);
        yield return replay.Byte(Op.Drain).Byte(Op.Replay).UInt16(256).Byte(Op.Drain).Seed("replayed-requests");
    }

    private static FuzzScript Post(FuzzScript script, int count) => script.Byte(Op.Post).Byte(count - 1).Byte(0).Bytes(new byte[count]);
}
