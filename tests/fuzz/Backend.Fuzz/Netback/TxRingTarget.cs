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
/// The TX side's six packet functions (<see cref="TxPacketParser.Parse"/>, <see cref="TxCopyPlanner"/>'s
/// SegmentCount/TryPlan/Succeeded, <see cref="TxResponder"/>'s StatusOf/Respond) over a ring in plain
/// memory whose requests and req_prod the input writes, drained as a ring actor drains it (the loop is
/// the one <see cref="TxPacketParser"/>'s remarks give; once the queue glue is in Backend.Xen this target
/// drives that instead). A copy's outcome is decided by its grant reference, and the frontend may rewrite
/// the slots it has handed over while their copies are in flight.
/// </summary>
/// <remarks>
/// Invariants: a drain ends; the parser writes nothing and consumes only slots the frontend owns; every
/// consumed request is answered exactly once, in ring order, with its own id (NULL for an extra) and the
/// status its copies earned, unless the packet was fatal (then the vif is disabled and nothing more is
/// consumed); a packet taken is valid as the parser's rules say; no planned copy leaves its granted page or
/// the packet's buffer, and the copies add up to the frame; what is copied and answered comes from the
/// one read of each slot (a slot rewritten after its parse changes nothing); nothing is written outside
/// the ring page; the drain allocates nothing.
/// </remarks>
public sealed unsafe class TxRingTarget : FuzzTarget
{
    private const ushort FrontendDomId = 7;
    private const int RingSize = 256;
    // Small, so that a batch fills and the flush-then-plan-again path is taken.
    private const int BatchSegments = 48;
    private const int FrameBufferLength = 65536;
    // The most passes a drain can need with req_prod fixed: a packet per slot, one Partial, one Empty.
    private const int DrainGuard = 2 * RingSize + 4;

    private readonly NetifTxRequest[] _slots = new NetifTxRequest[TxPacketParser.ScratchSlots];
    private readonly NetifTxRequest[] _seen = new NetifTxRequest[RingSize];
    private readonly GrantCopySegment[] _batch = new GrantCopySegment[BatchSegments];
    private readonly Pending[] _pending = new Pending[RingSize];
    private readonly NetifTxRequest[] _pendingSlots = new NetifTxRequest[RingSize * TxPacketParser.ScratchSlots];

    private GuardedRingPage _page = null!;
    private BackRing<NetifTxRequest, NetifTxResponse> _ring = null!;
    private nint _frameBuffer;
    private uint _writer;
    private int _batchUsed;
    private int _pendingCount;
    private byte _failModulus;
    private byte _scribble;
    private bool _disabled;
    private uint _disabledAt;

    public override string Name => "tx";

    /// <summary>What the input can do, one byte each (modulo <see cref="Count"/>), followed by its operands.</summary>
    public static class Op
    {
        /// <summary>A packet: shape byte (bits 0-4 data slots - 1, bit 5 first size announces the sum, bit 6 extras, bit 7 push and drain after the first slot), then per part its fields.</summary>
        public const int Packet = 0;
        /// <summary>1 + n%8 raw 12-byte requests at the frontend's producer, then push.</summary>
        public const int RawSlots = 1;
        /// <summary>req_prod = u32.</summary>
        public const int RequestProducer = 2;
        /// <summary>req_prod = rsp_prod + u16 % 520: requests replayed (issue 12's runts) or an overflow.</summary>
        public const int Replay = 3;
        public const int Drain = 4;
        /// <summary>Copies whose grant reference is a multiple of the byte fail (0: none).</summary>
        public const int CopyFailures = 5;
        /// <summary>While copies are in flight the frontend rewrites the consumed slots with this byte (0: it does not).</summary>
        public const int ScribbleInFlight = 6;
        /// <summary>Slot byte, then 12 raw bytes written there, not pushed.</summary>
        public const int Rewrite = 7;
        /// <summary>The frontend's producer moves to rsp_prod + byte (it writes where it likes).</summary>
        public const int Rewind = 8;
        /// <summary>rsp_event = u32.</summary>
        public const int ResponseEvent = 9;
        public const int Count = 10;
    }

    protected override void Execute(ReadOnlySpan<byte> input)
    {
        _page = new GuardedRingPage(sizeof(NetifTxRequest));
        _frameBuffer = (nint)NativeMemory.AlignedAlloc(FrameBufferLength, 4096);
        try
        {
            _ring = new BackRing<NetifTxRequest, NetifTxResponse>(_page.Address);
            _ring.AttachAtResponseProducer();
            _writer = 0;
            _batchUsed = _pendingCount = 0;
            _failModulus = _scribble = 0;
            _disabled = false;
            _disabledAt = 0;

            var script = new FuzzInput(input);
            while (!script.IsEmpty)
                Step(ref script);
            DrainChecked();
            _page.CheckCanaries();
        }
        finally
        {
            _page.Dispose();
            NativeMemory.AlignedFree((void*)_frameBuffer);
        }
    }

    private void Step(ref FuzzInput script)
    {
        switch (script.Byte() % Op.Count)
        {
            case Op.Packet:
                WritePacket(ref script);
                break;
            case Op.RawSlots:
            {
                var n = 1 + (script.Byte() % 8);
                for (var i = 0; i < n; i++)
                    script.Bytes(_page.Entry(_writer++));
                Push();
                break;
            }
            case Op.RequestProducer:
                Volatile.Write(ref _page.Header.ReqProd, script.UInt32());
                break;
            case Op.Replay:
                Volatile.Write(ref _page.Header.ReqProd, unchecked(_page.Header.RspProd + (uint)(script.UInt16() % 520)));
                break;
            case Op.Drain:
                DrainChecked();
                break;
            case Op.CopyFailures:
                _failModulus = script.Byte();
                break;
            case Op.ScribbleInFlight:
                _scribble = script.Byte();
                break;
            case Op.Rewrite:
                script.Bytes(_page.Entry(script.Byte()));
                break;
            case Op.Rewind:
                _writer = unchecked(_page.Header.RspProd + script.Byte());
                break;
            case Op.ResponseEvent:
                Volatile.Write(ref _page.Header.RspEvent, script.UInt32());
                break;
        }
    }

    private void WritePacket(ref FuzzInput script)
    {
        var shape = script.Byte();
        var dataSlots = 1 + (shape & 0x1F);
        var announcesSum = (shape & 0x20) != 0;
        var extras = (shape & 0x40) != 0 ? 1 + (script.Byte() % 4) : 0;
        var split = (shape & 0x80) != 0;

        Span<ushort> sizes = stackalloc ushort[32];
        var sum = 0;
        for (var i = 1; i < dataSlots; i++)
            sum += sizes[i] = (ushort)(script.UInt16() % 4200);
        var firstOwn = script.UInt16();
        sizes[0] = announcesSum ? (ushort)(sum + (firstOwn % 4200)) : firstOwn;

        var firstFlags = (NetTxFlags)(script.Byte() & (int)(NetTxFlags.CsumBlank | NetTxFlags.DataValidated));
        if (dataSlots > 1)
            firstFlags |= NetTxFlags.MoreData;
        if (extras > 0)
            firstFlags |= NetTxFlags.ExtraInfo;
        WriteData(sizes[0], firstFlags, ref script);
        if (split)
        {
            Push();
            DrainChecked();
        }

        for (var i = 0; i < extras; i++)
        {
            NetifTxRequest slot = default;
            ref var extra = ref Unsafe.As<NetifTxRequest, NetifExtraInfo>(ref slot);
            extra.Type = (byte)(script.Byte() % 6);
            extra.Flags = i < extras - 1 ? NetifExtraFlags.More : (byte)0;
            extra.GsoSize = script.UInt16();
            extra.GsoType = (byte)(script.Byte() % 4);
            _page.Write(_writer++, slot);
        }
        for (var i = 1; i < dataSlots; i++)
            WriteData(sizes[i], i < dataSlots - 1 ? NetTxFlags.MoreData : NetTxFlags.None, ref script);
        Push();
    }

    private void WriteData(ushort size, NetTxFlags flags, ref FuzzInput script)
    {
        var offset = (ushort)(script.UInt16() % 4200);
        var gref = script.Byte();
        _page.Write(_writer, new NetifTxRequest { Gref = gref, Offset = offset, Flags = (ushort)flags, Id = (ushort)_writer, Size = size });
        _writer++;
    }

    private void Push() => Volatile.Write(ref _page.Header.ReqProd, _writer);

    /// <summary>One drain, checked to allocate nothing once the target is warm.</summary>
    private void DrainChecked()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        Drain();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (IsWarm && allocated != 0)
            throw new InvariantException($"a TX drain allocated {allocated} bytes");

        // Every consumed request is answered and pushed before the drain ends.
        if (_ring.RequestConsumer != _ring.ResponseProducer)
            throw new InvariantException($"drain ended with req_cons {_ring.RequestConsumer} and rsp_prod_pvt {_ring.ResponseProducer}");
        if (Volatile.Read(ref _page.Header.RspProd) != _ring.ResponseProducer)
            throw new InvariantException("drain ended with responses not pushed");
        if (_disabled && _ring.RequestConsumer != _disabledAt)
            throw new InvariantException($"a disabled vif consumed requests ({_disabledAt} to {_ring.RequestConsumer})");
    }

    private void Drain()
    {
        if (_disabled)
            return;
        for (var pass = 0; pass < DrainGuard; pass++)
        {
            var reqProd = _ring.ReadRequestProducer();
            var start = _ring.RequestConsumer;
            MemoryMarshal.Cast<byte, NetifTxRequest>(_page.Entries).CopyTo(_seen);
            var available = _ring.RequestProducerOverflow(reqProd) ? 0u : _ring.UnconsumedRequests(reqProd);

            var packet = TxPacketParser.Parse(_ring, reqProd, _slots);

            if (_ring.RequestConsumer != start || packet.Start != start)
                throw new InvariantException("the parser moved req_cons or started elsewhere");
            if (!_page.Entries.SequenceEqual(MemoryMarshal.AsBytes(_seen.AsSpan())))
                throw new InvariantException("the parser wrote to the ring");
            if ((uint)packet.RingSlots > available)
                throw new InvariantException($"a packet of {packet.RingSlots} slots with {available} available");

            switch (packet.Outcome)
            {
                case TxOutcome.Fatal:
                    if (packet.Fault == TxFault.None)
                        throw new InvariantException("a fatal outcome without a fault");
                    if (packet.Fault == TxFault.ImpossibleRequestProducer != _ring.RequestProducerOverflow(reqProd))
                        throw new InvariantException("ImpossibleRequestProducer where req_prod does not overflow, or the reverse");
                    Flush();
                    _disabled = true;
                    _disabledAt = _ring.RequestConsumer;
                    return;
                case TxOutcome.Empty:
                    if (available != 0)
                        throw new InvariantException($"Empty with {available} requests available");
                    Flush();
                    if (!_ring.FinalCheckForRequests())
                        return;
                    continue;
                case TxOutcome.Partial:
                    Flush();
                    _ring.SetRequestEvent(unchecked(reqProd + 1));
                    if (_ring.ReadRequestProducer() == reqProd)
                        return;
                    continue;
            }

            CheckTaken(packet, available);
            var first = _batchUsed;
            var segments = 0;
            if (packet.Outcome == TxOutcome.Packet)
            {
                if (!TxCopyPlanner.TryPlan(packet, _slots, FrontendDomId, _frameBuffer, FrameBufferLength, _batch.AsSpan(_batchUsed), out segments))
                {
                    if (_batchUsed == 0)
                        throw new InvariantException("a packet does not fit an empty batch");
                    Flush();
                    first = 0;
                    if (!TxCopyPlanner.TryPlan(packet, _slots, FrontendDomId, _frameBuffer, FrameBufferLength, _batch, out segments))
                        throw new InvariantException("a packet does not fit an empty batch");
                }
                CheckSegments(packet, _batch.AsSpan(first, segments));
                _batchUsed = first + segments;
            }
            _ring.RequestConsumer += (uint)packet.RingSlots;
            _slots.AsSpan(0, packet.DataSlots).CopyTo(_pendingSlots.AsSpan(_pendingCount * TxPacketParser.ScratchSlots));
            _pending[_pendingCount++] = new Pending(packet, first, segments);
            if (_scribble != 0)
            {
                // A hostile frontend rewrites what it handed over while the copy runs: nothing of it may matter now.
                for (var i = 0u; i < (uint)packet.RingSlots; i++)
                    _page.Entry(packet.Start + i).Fill(_scribble);
            }
            if (_pendingCount == _pending.Length)
                Flush();
        }
        throw new InvariantException($"a drain did not end after {DrainGuard} passes with req_prod fixed");
    }

    /// <summary>A packet to be consumed, against the one snapshot of the ring taken before its parse.</summary>
    private void CheckTaken(in TxPacket packet, uint available)
    {
        if (packet.DataSlots is < 1 or > TxPacketParser.ScratchSlots)
            throw new InvariantException($"{packet.DataSlots} data slots");
        if (packet.Outcome == TxOutcome.Error != (packet.Error != TxError.None))
            throw new InvariantException($"outcome {packet.Outcome} with error {packet.Error}");
        var first = _seen[packet.Start & 255];
        if (!Same(_slots[0], first))
            throw new InvariantException("the first slot's copy is not what the ring held");
        if (packet.TotalLength != first.Size)
            throw new InvariantException("the frame's length is not the first slot's size");
        var hasExtras = ((NetTxFlags)first.Flags & NetTxFlags.ExtraInfo) != 0;
        if (packet.ExtraCount > 0 != hasExtras)
            throw new InvariantException($"{packet.ExtraCount} extras with extra_info {hasExtras}");
        for (var i = 0; i < packet.ExtraCount; i++)
        {
            var slot = _seen[(packet.Start + 1 + (uint)i) & 255];
            var extra = Unsafe.As<NetifTxRequest, NetifExtraInfo>(ref slot);
            if (extra.Type is 0 or >= 5)
                throw new InvariantException($"an extra of type {extra.Type} taken");
            if ((extra.Flags & NetifExtraFlags.More) != 0 != (i < packet.ExtraCount - 1))
                throw new InvariantException("the extras do not end where the more flag says");
        }
        if (packet.Outcome == TxOutcome.MulticastControl)
        {
            if (packet.DataSlots != 1 || !(packet.HasMulticastAdd || packet.HasMulticastDel))
                throw new InvariantException("a multicast control request that is not one slot with a multicast extra");
            return;
        }

        var later = 0;
        for (var i = 1; i < packet.DataSlots; i++)
        {
            var slot = _seen[(packet.Start + (uint)packet.ExtraCount + (uint)i) & 255];
            if (!Same(_slots[i], slot))
                throw new InvariantException($"data slot {i}'s copy is not what the ring held");
            if (slot.Offset + slot.Size > NetifConstants.PageSize)
                throw new InvariantException($"a taken slot crosses its page: {slot.Offset}+{slot.Size}");
            if (((NetTxFlags)_slots[i - 1].Flags & NetTxFlags.MoreData) == 0)
                throw new InvariantException("a data slot taken after one without more_data");
            later += slot.Size;
        }
        if (((NetTxFlags)_slots[packet.DataSlots - 1].Flags & NetTxFlags.MoreData) != 0)
            throw new InvariantException("the last data slot taken has more_data");
        if (packet.Outcome != TxOutcome.Packet)
            return;

        // A valid packet: the rules of SIMXEN's "Hostile frontends", checked from the snapshot.
        if (packet.DataSlots > TxPacketParser.MaxSlots)
            throw new InvariantException($"a valid packet of {packet.DataSlots} data slots");
        if (packet.FirstLength != first.Size - later || packet.FirstLength < NetifConstants.EthernetHeaderLength)
            throw new InvariantException($"first slot's share {packet.FirstLength} of {first.Size} with {later} in later slots");
        if (first.Offset + packet.FirstLength > NetifConstants.PageSize)
            throw new InvariantException($"the first slot crosses its page: {first.Offset}+{packet.FirstLength}");
        if (packet.HasGso && (packet.GsoSize < GsoLimits.MinSize || packet.GsoType is not (NetifGsoType.TcpV4 or NetifGsoType.TcpV6)
            || GsoLimits.MostSegments(packet.TotalLength, packet.GsoSize) > GsoLimits.MaxSegments))
            throw new InvariantException($"a valid packet with GSO type {packet.GsoType} size {packet.GsoSize}");
        if (available < (uint)packet.RingSlots)
            throw new InvariantException("more slots than available");
    }

    private void CheckSegments(in TxPacket packet, ReadOnlySpan<GrantCopySegment> planned)
    {
        if (planned.Length != TxCopyPlanner.SegmentCount(packet, _slots))
            throw new InvariantException("TryPlan and SegmentCount disagree");
        var total = 0;
        var slot = 0;
        foreach (ref readonly var s in planned)
        {
            // The segment of data slot 'slot', skipping the empty ones.
            while (slot > 0 && slot < packet.DataSlots && _slots[slot].Size == 0)
                slot++;
            if (slot >= packet.DataSlots)
                throw new InvariantException("more segments than data slots");
            var request = _slots[slot];
            if (s.Flags != GrantCopySegment.SourceGref || s.Source.DomId != FrontendDomId)
                throw new InvariantException("a segment not from the frontend's grant");
            if (s.Source.Ref != request.Gref || s.Source.Offset != request.Offset)
                throw new InvariantException($"segment {slot} copies gref {s.Source.Ref}+{s.Source.Offset}, the slot granted {request.Gref}+{request.Offset}");
            var expected = slot == 0 ? packet.FirstLength : request.Size;
            if (s.Length != expected || s.Length == 0)
                throw new InvariantException($"segment {slot} of {s.Length} bytes for {expected}");
            if (s.Source.Offset + s.Length > NetifConstants.PageSize)
                throw new InvariantException($"a copy outside its granted page: {s.Source.Offset}+{s.Length}");
            if (s.Dest.Virt != _frameBuffer + total || total + s.Length > packet.TotalLength)
                throw new InvariantException("a copy outside the packet's place in its buffer");
            total += s.Length;
            slot++;
        }
        if (total != packet.TotalLength)
            throw new InvariantException($"copies of {total} bytes for a frame of {packet.TotalLength}");
    }

    /// <summary>Runs the batch's copies, answers every pending packet in ring order, pushes, and checks the answers.</summary>
    private void Flush()
    {
        for (var i = 0; i < _batchUsed; i++)
            _batch[i].Status = Fails(_batch[i].Source.Ref) ? GrantStatus.BadGntref : GrantStatus.Okay;
        for (var p = 0; p < _pendingCount; p++)
        {
            ref readonly var entry = ref _pending[p];
            var copies = _pendingSlots.AsSpan(p * TxPacketParser.ScratchSlots, entry.Packet.DataSlots);
            var status = TxResponder.StatusOf(entry.Packet);
            if (entry.Packet.Outcome == TxOutcome.Packet && !TxCopyPlanner.Succeeded(_batch.AsSpan(entry.FirstSegment, entry.Segments), out _))
                status = NetifResponseStatus.Error;
            TxResponder.Respond(_ring, entry.Packet, copies, status);
        }
        _ring.PushResponsesAndCheckNotify();
        for (var p = 0; p < _pendingCount; p++)
            CheckResponses(_pending[p].Packet, _pendingSlots.AsSpan(p * TxPacketParser.ScratchSlots, _pending[p].Packet.DataSlots));
        _pendingCount = 0;
        _batchUsed = 0;
    }

    private void CheckResponses(in TxPacket packet, ReadOnlySpan<NetifTxRequest> copies)
    {
        // The status the packet earned, worked out here from its slots rather than from the planner.
        var status = packet.Outcome == TxOutcome.Error ? NetifResponseStatus.Error : NetifResponseStatus.Okay;
        if (packet.Outcome == TxOutcome.Packet)
        {
            for (var i = 0; i < packet.DataSlots; i++)
            {
                if ((i == 0 || copies[i].Size != 0) && Fails(copies[i].Gref))
                    status = NetifResponseStatus.Error;
            }
        }
        var index = packet.Start;
        Expect(index++, copies[0].Id, status);
        for (var i = 0; i < packet.ExtraCount; i++)
        {
            if (_page.Read<NetifTxResponse>(index++).Status != NetifResponseStatus.Null)
                throw new InvariantException("an extra not answered NULL");
        }
        for (var i = 1; i < packet.DataSlots; i++)
            Expect(index++, copies[i].Id, status);
    }

    private void Expect(uint index, ushort id, short status)
    {
        var response = _page.Read<NetifTxResponse>(index);
        if (response.Id != id || response.Status != status)
            throw new InvariantException($"slot {index} answered id {response.Id} status {response.Status}, expected id {id} status {status}");
    }

    private bool Fails(uint gref) => _failModulus != 0 && gref % _failModulus == 0;

    private static bool Same(in NetifTxRequest a, in NetifTxRequest b) =>
        a.Gref == b.Gref && a.Offset == b.Offset && a.Flags == b.Flags && a.Id == b.Id && a.Size == b.Size;

    private readonly record struct Pending(TxPacket Packet, int FirstSegment, int Segments);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return Packet(new FuzzScript(), [500, 60], 1000).Byte(Op.Drain).Seed("three-slot-packet");
        // Issue 12 finding 1: a ring of runts (answered without a copy) replayed by req_prod = rsp_prod + 256.
        var runts = new FuzzScript();
        for (var i = 0; i < 4; i++)
            Packet(runts, [], 10);
        runts.Byte(Op.Drain);
        for (var i = 0; i < 3; i++)
            runts.Byte(Op.Replay).UInt16(256).Byte(Op.Drain);
        yield return runts.Seed("runts-replayed");
        // Issue 12 finding 2: 64 KiB in 17 slots with a GSO size of 1.
        yield return Packet(new FuzzScript(), [.. Enumerable.Repeat((ushort)4000, 16)], 1000, extras: [(NetifExtraType.Gso, 1, NetifGsoType.TcpV4)])
            .Byte(Op.Drain).Seed("gso-size-1-64k");
        yield return Packet(new FuzzScript(), [1400], 100, extras: [(NetifExtraType.Gso, 1400, NetifGsoType.TcpV4)], flags: (byte)NetTxFlags.CsumBlank)
            .Byte(Op.Drain).Seed("gso-valid");
        yield return Packet(new FuzzScript(), [], 60, announcesSum: false, extras: [(NetifExtraType.MulticastAdd, 0, 0), (NetifExtraType.MulticastDel, 0, 0)])
            .Byte(Op.Drain).Seed("multicast-control");
        yield return Packet(new FuzzScript(), [.. Enumerable.Repeat((ushort)0, 20)], 100).Byte(Op.Drain).Seed("21-slots-error");
        yield return Packet(new FuzzScript(), [.. Enumerable.Repeat((ushort)0, 21)], 100).Byte(Op.Drain).Seed("22-slots-fatal");
        yield return Packet(new FuzzScript(), [100], 100, split: true).Byte(Op.Drain).Seed("partial-then-whole");
        var scribbled = new FuzzScript().Byte(Op.CopyFailures).Byte(3).Byte(Op.ScribbleInFlight).Byte(0xEE);
        Packet(scribbled, [700], 100, gref: 3);
        yield return Packet(scribbled, [], 80, gref: 4).Byte(Op.Drain).Seed("copy-failure-scribbled");
        yield return new FuzzScript().Byte(Op.RequestProducer).UInt32(0x12345).Byte(Op.Drain).Seed("req-prod-overflow");
        yield return Packet(new FuzzScript(), [], 60, firstOffset: 4090).Byte(Op.Drain).Seed("first-slot-crosses-page");
        yield return Packet(new FuzzScript(), [5000 % 4200], 100, announcesSum: false).Byte(Op.Drain).Seed("slot-larger-than-remaining");
        yield return Packet(new FuzzScript(), [], 60, extras: [(0, 0, 0)]).Byte(Op.Drain).Seed("extra-type-none-fatal");
        var wrap = new FuzzScript().Byte(Op.Rewind).Byte(250);
        for (var i = 0; i < 3; i++)
            Packet(wrap, [1000, 1000], 100);
        yield return wrap.Byte(Op.Drain).Byte(Op.RawSlots).Byte(2).Bytes(new byte[24]).Byte(Op.Drain).Seed("wrap-and-raw");
    }

    /// <summary>Spells an <see cref="Op.Packet"/> as <see cref="WritePacket"/> reads it.</summary>
    private static FuzzScript Packet(FuzzScript script, ushort[] laterSizes, ushort first, bool announcesSum = true,
        (byte Type, ushort GsoSize, byte GsoType)[]? extras = null, bool split = false, byte flags = 0, ushort firstOffset = 0, byte gref = 1)
    {
        extras ??= [];
        var shape = laterSizes.Length | (announcesSum ? 0x20 : 0) | (extras.Length > 0 ? 0x40 : 0) | (split ? 0x80 : 0);
        script.Byte(Op.Packet).Byte(shape);
        if (extras.Length > 0)
            script.Byte(extras.Length - 1);
        foreach (var size in laterSizes)
            script.UInt16(size);
        script.UInt16(first).Byte(flags).UInt16(firstOffset).Byte(gref);
        foreach (var (type, gsoSize, gsoType) in extras)
            script.Byte(type).UInt16(gsoSize).Byte(gsoType);
        for (var i = 0; i < laterSizes.Length; i++)
            script.UInt16(0).Byte(gref + 1 + i);
        return script;
    }
}
