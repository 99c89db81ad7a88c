using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backend.Fuzz.Rings;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Fuzz.Netback;

/// <summary>
/// A vif's <see cref="RxQueue"/> (Linux's <c>xenvif_rx_action</c> over a <c>xenvif_queue</c>) with rx
/// requests whose ids, grant references and req_prod the input writes, and frames of any length, GSO type
/// and size and checksum state handed to it (<see cref="RxQueue.Accept"/>, which segments or fills for a
/// frontend without the feature), driven as the RX ring actor drives it: <see cref="RxQueue.Collect"/>,
/// the copies run (a copy's outcome decided by its grant reference), <see cref="RxQueue.Complete"/>, and
/// another pass while the queue says so. The frontend may rewrite consumed requests while copies are in flight.
/// </summary>
/// <remarks>
/// Invariants (issue 16): an impossible req_prod stops the queue (the vif is disabled) and nothing is
/// consumed after it; a pass writes no request slot and consumes no more than was posted; every copy lands
/// in a page a consumed request granted (offset + length within it) and reads no local page across its
/// end; every consumed request is answered exactly once, in its own slot, with the id of the one read of
/// it, a byte count within a page or ERROR (always ERROR when one of its packet's copies failed), and a GSO
/// extra where the flags say one follows; a request rewritten after it was read changes nothing; all is
/// pushed when the pass completes; nothing is written outside the ring page; no packet buffer is kept once
/// the queue is released.
/// </remarks>
public sealed unsafe class RxRingTarget : FuzzTarget
{
    private const ushort FrontendDomId = 9;
    private const int PageSize = NetifConstants.PageSize;
    private const int MaxQueued = 64;
    // Passes a drain may take with req_prod fixed: one per posted request at worst, and a last one.
    private const int DrainGuard = 2 * NetifConstants.RxRingSize + 4;

    // The frontend takes TCPv4 GSO and IPv4 checksum offload, not their IPv6 kin: both paths of Accept are reached.
    private static RxQueueSettings NewSettings() => new(FrontendDomId, Mtu: 1500,
        new FrontendConfig(TxRingRef: 0, RxRingRef: 0, TxEventChannel: 1, RxEventChannel: 1, SplitEventChannels: false, RxNotify: true,
            ScatterGather: true, GsoTcpV4: true, GsoTcpV6: false, Ipv4ChecksumOffload: true, Ipv6ChecksumOffload: false),
        MaxFrames: MaxQueued, MaxBytes: 1 << 20, CopyBatchSize: 40);

    private readonly NetifRxRequest[] _seen = new NetifRxRequest[NetifConstants.RxRingSize];
    // Made at the first input, not here: under AFL instrumented code runs only once SharpFuzz has attached
    // its coverage map (FuzzTarget.Run). A small pool: a leak shows as Outstanding, not as a full pool.
    private PacketBufferPool _buffers = null!;

    private GuardedRingPage _page = null!;
    private RxQueue _queue = null!;
    private uint _writer;
    private byte _failModulus;
    private byte _scribble;
    private bool _disabled;
    private uint _disabledAt;

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
        /// <summary>A frame: length u16 plus 65536 × (byte &amp; 1) (at most a large buffer), GSO type byte % 4, GSO size u16, checksum byte % 4, fill u16 (its first bytes' pattern).</summary>
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
        _buffers ??= new PacketBufferPool(keptBytesPerClass: 1 << 20);
        _page = new GuardedRingPage(sizeof(NetifRxRequest));
        try
        {
            _queue = new RxQueue(_page.Address, NewSettings(), _buffers);
            _writer = 0;
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
            _queue.Release();
            _page.Dispose();
        }
        if (_buffers.Outstanding != 0)
            throw new InvariantException($"{_buffers.Outstanding} packet buffers not returned once the queue is released");
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
                var length = Math.Min(script.UInt16() + ((script.Byte() & 1) << 16), PacketBufferPool.LargeSize);
                var gsoType = (byte)(script.Byte() % 4);
                var gsoSize = script.UInt16();
                var checksum = script.Byte() % 4;
                var fill = script.UInt16();
                var frame = _buffers.Rent(Math.Max(length, 1));
                frame.Length = length;
                // An IPv4/TCP-looking head when the fill's low bit says so, so software GSO and the checksum fill get past the first check.
                frame.Span[..length].Fill((byte)fill);
                if ((fill & 1) != 0 && length >= 54)
                {
                    frame.Span[12] = 0x08;
                    frame.Span[13] = 0x00;
                    frame.Span[14] = 0x45;
                    frame.Span[23] = 6;
                }
                frame.GsoType = gsoType;
                frame.GsoSize = gsoSize;
                frame.ChecksumBlank = (checksum & 1) != 0;
                frame.DataValidated = (checksum & 2) != 0;
                _queue.Accept(frame);
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
        Drain();
        if (_queue.RequestConsumer != _queue.ResponseProducer)
            throw new InvariantException($"drain ended with req_cons {_queue.RequestConsumer} and rsp_prod_pvt {_queue.ResponseProducer}");
        if (Volatile.Read(ref _page.Header.RspProd) != _queue.ResponseProducer)
            throw new InvariantException("drain ended with responses not pushed");
        if (_disabled && _queue.RequestConsumer != _disabledAt)
            throw new InvariantException($"a stopped queue consumed requests ({_disabledAt} to {_queue.RequestConsumer})");
    }

    private void Drain()
    {
        for (var turn = 0; turn < DrainGuard; turn++)
        {
            var start = _queue.RequestConsumer;
            var reqProd = _queue.ReadRequestProducer();
            MemoryMarshal.Cast<byte, NetifRxRequest>(_page.Entries).CopyTo(_seen);
            var pass = _queue.Collect();
            var consumed = unchecked(_queue.RequestConsumer - start);
            if (!_page.Entries.SequenceEqual(MemoryMarshal.AsBytes(_seen.AsSpan())))
                throw new InvariantException("a pass wrote to the ring's request slots");
            if (consumed > unchecked(reqProd - start) || consumed > NetifConstants.RxRingSize)
                throw new InvariantException($"a pass consumed {consumed} requests with {unchecked(reqProd - start)} posted");
            if (_disabled && consumed != 0)
                throw new InvariantException("a stopped queue consumed requests");
            switch (pass)
            {
                case RxPass.Fatal:
                    if (_queue.Fault is null || !_queue.Stopped || consumed != 0)
                        throw new InvariantException("a fatal pass without a fault, or one that consumed, or a queue that goes on");
                    _disabled = true;
                    _disabledAt = _queue.RequestConsumer;
                    return;
                case RxPass.Idle:
                    if (consumed != 0)
                        throw new InvariantException("an idle pass consumed requests");
                    return;
                case RxPass.More:
                    if (consumed != 0)
                        throw new InvariantException("a pass without copies consumed requests");
                    continue;
            }

            foreach (ref var segment in _queue.Copies!.Used)
            {
                CheckCopy(segment, start, consumed);
                segment.Status = Fails(segment.Dest.Ref) ? GrantStatus.BadGntref : GrantStatus.Okay;
            }
            if (_scribble != 0)
            {
                for (var i = 0u; i < consumed; i++)
                    _page.Entry(start + i).Fill(_scribble);
            }
            var done = _queue.Complete();
            if (consumed > 0 && done.Packets == 0)
                throw new InvariantException($"{consumed} requests consumed, no packet answered");
            CheckAnswers(start, consumed);
        }
        throw new InvariantException($"a drain did not end after {DrainGuard} turns with req_prod fixed");
    }

    /// <summary>A copy lands in a page a consumed request granted, within it, and reads no local page across its end.</summary>
    private void CheckCopy(in GrantCopySegment s, uint start, uint consumed)
    {
        if (s.Flags != GrantCopySegment.DestGref || s.Dest.DomId != FrontendDomId)
            throw new InvariantException("a copy not into the frontend's grant, or from a grant");
        if (s.Length == 0 || s.Dest.Offset + s.Length > PageSize)
            throw new InvariantException($"a copy outside its granted page: {s.Dest.Offset}+{s.Length}");
        if ((s.Source.Virt & (PageSize - 1)) + s.Length > PageSize)
            throw new InvariantException("a copy across a local page");
        for (var i = 0u; i < consumed; i++)
        {
            if (_seen[(start + i) & 255].Gref == s.Dest.Ref)
                return;
        }
        throw new InvariantException($"a copy to gref {s.Dest.Ref}, which no consumed request granted");
    }

    /// <summary>Each consumed request answered once, in its own slot, with the id of the one read; a GSO extra where the flags say.</summary>
    private void CheckAnswers(uint start, uint consumed)
    {
        if (_queue.ResponseProducer != _queue.RequestConsumer || Volatile.Read(ref _page.Header.RspProd) != _queue.ResponseProducer)
            throw new InvariantException($"a pass complete with req_cons {_queue.RequestConsumer}, rsp_prod_pvt {_queue.ResponseProducer}, rsp_prod {_page.Header.RspProd}");
        for (var i = 0u; i < consumed; i++)
        {
            var request = _seen[(start + i) & 255];
            var response = _page.Read<NetifRxResponse>(start + i);
            if (response.Id != request.Id)
                throw new InvariantException($"slot {start + i} answered id {response.Id}, its request had id {request.Id}");
            if (response.Status is not (NetifResponseStatus.Error or > 0 and <= PageSize) || response.Offset != 0)
                throw new InvariantException($"slot {start + i} answered status {response.Status} offset {response.Offset}");
            if (Fails(request.Gref) && response.Status != NetifResponseStatus.Error)
                throw new InvariantException($"slot {start + i} answered {response.Status} though a copy into its grant failed");
            if (((NetRxFlags)response.Flags & NetRxFlags.ExtraInfo) == 0)
                continue;
            if (++i >= consumed)
                throw new InvariantException("extra_info on the last consumed slot");
            var slot = _page.Read<NetifRxResponse>(start + i);
            var extra = Unsafe.As<NetifRxResponse, NetifExtraInfo>(ref slot);
            if (extra.Type != NetifExtraType.Gso || extra.GsoType is not (NetifGsoType.TcpV4 or NetifGsoType.TcpV6) || extra.GsoSize == 0)
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
