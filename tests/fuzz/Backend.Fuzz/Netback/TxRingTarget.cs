using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backend.Fuzz.Rings;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Rings;

namespace Backend.Fuzz.Netback;

/// <summary>
/// A vif's <see cref="TxQueue"/> (Linux's <c>xenvif_tx_action</c> over a <c>xenvif_queue</c>) over a ring
/// in plain memory whose requests and req_prod the input writes, driven as the TX ring actor drives it:
/// <see cref="TxQueue.Collect"/>, the copies run (a copy's outcome decided by its grant reference),
/// <see cref="TxQueue.Complete"/>, the frames forwarded (returned to the pool here), and another pass while
/// the queue says so. The frontend may rewrite the slots it has handed over while their copies are in flight.
/// </summary>
/// <remarks>
/// Invariants (issue 16): a drain ends; a pass writes no request slot; every consumed request is answered
/// exactly once with the id the one read of its slot saw (NULL for an extra), and all are pushed when the
/// pass completes, unless the pass was fatal (then the vif is disabled and nothing more is consumed); no
/// planned copy reads outside the page and offset a consumed slot granted, nor more than it granted; the
/// copies into the frames forwarded add up to them and no frame with a failed copy is forwarded; a slot
/// rewritten after its parse changes nothing (the answers come from the one read); nothing is written
/// outside the ring page; no packet buffer is kept once the queue is released.
/// </remarks>
public sealed unsafe class TxRingTarget : FuzzTarget
{
    private const ushort FrontendDomId = 7;
    // The most passes a drain can need with req_prod fixed: a packet per slot, one Partial, one Empty.
    private const int DrainGuard = 2 * NetifConstants.TxRingSize + 4;

    private readonly NetifTxRequest[] _seen = new NetifTxRequest[NetifConstants.TxRingSize];
    // Made at the first input, not here: under AFL instrumented code runs only once SharpFuzz has attached
    // its coverage map (FuzzTarget.Run). A small pool: a leak shows as Outstanding, not as a full pool.
    private PacketBufferPool _buffers = null!;

    private GuardedRingPage _page = null!;
    private TxQueue _queue = null!;
    private uint _writer;
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
        _buffers ??= new PacketBufferPool(keptBytesPerClass: 1 << 20);
        _page = new GuardedRingPage(sizeof(NetifTxRequest));
        try
        {
            _queue = new TxQueue(_page.Address, FrontendDomId, _buffers);
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

    /// <summary>One drain, as the ring actor's turns take it, then the ring checked as the frontend sees it.</summary>
    private void DrainChecked()
    {
        Drain();
        // Every consumed request is answered and pushed before the drain ends.
        if (_queue.RequestConsumer != _queue.ResponseProducer)
            throw new InvariantException($"drain ended with req_cons {_queue.RequestConsumer} and rsp_prod_pvt {_queue.ResponseProducer}");
        if (Volatile.Read(ref _page.Header.RspProd) != _queue.ResponseProducer)
            throw new InvariantException("drain ended with responses not pushed");
        if (_disabled && _queue.RequestConsumer != _disabledAt)
            throw new InvariantException($"a disabled vif consumed requests ({_disabledAt} to {_queue.RequestConsumer})");
    }

    private void Drain()
    {
        for (var turn = 0; turn < DrainGuard; turn++)
        {
            var start = _queue.RequestConsumer;
            MemoryMarshal.Cast<byte, NetifTxRequest>(_page.Entries).CopyTo(_seen);
            var pass = _queue.Collect();
            var end = _queue.RequestConsumer;
            if (!_page.Entries.SequenceEqual(MemoryMarshal.AsBytes(_seen.AsSpan())))
                throw new InvariantException("a pass wrote to the ring's request slots");
            var consumed = unchecked(end - start);
            if (consumed > NetifConstants.TxRingSize)
                throw new InvariantException($"a pass consumed {consumed} requests of a ring of {NetifConstants.TxRingSize}");
            if (_disabled && consumed != 0)
                throw new InvariantException("a stopped queue consumed requests");

            var copies = pass.Copy ? _queue.Copies!.Used : default;
            foreach (ref var segment in copies)
            {
                CheckCopy(segment, start, consumed);
                segment.Status = Fails(segment.Source.Ref) ? GrantStatus.BadGntref : GrantStatus.Okay;
            }
            if (_scribble != 0)
            {
                // A hostile frontend rewrites what it handed over while the copy runs: nothing of it may matter now.
                for (var i = 0u; i < consumed; i++)
                    _page.Entry(start + i).Fill(_scribble);
            }

            var done = _queue.Complete();
            CheckAnswers(start, consumed, done.Answered);
            CheckFrames(done.Frames, copies);
            foreach (var frame in done.Frames)
                frame.Return();

            if (pass.Fatal)
            {
                if (_queue.Fault is null || !_queue.Stopped)
                    throw new InvariantException("a fatal pass without a fault, or a queue that goes on");
                _disabled = true;
                _disabledAt = _queue.RequestConsumer;
                return;
            }
            if (pass.Copy)
                continue;
            switch (pass.Next)
            {
                case TxNext.Idle:
                    return;
                case TxNext.Credit:
                    throw new InvariantException("a queue without a credit scheduler waits for credit");
            }
        }
        throw new InvariantException($"a drain did not end after {DrainGuard} turns with req_prod fixed");
    }

    /// <summary>A planned copy reads from the frontend's grant as one consumed slot granted it, no more, and within its page.</summary>
    private void CheckCopy(in GrantCopySegment s, uint start, uint consumed)
    {
        if (s.Flags != GrantCopySegment.SourceGref || s.Source.DomId != FrontendDomId)
            throw new InvariantException("a copy not from the frontend's grant, or into a grant");
        if (s.Length == 0 || s.Source.Offset + s.Length > NetifConstants.PageSize)
            throw new InvariantException($"a copy outside its granted page: {s.Source.Offset}+{s.Length}");
        for (var i = 0u; i < consumed; i++)
        {
            ref readonly var slot = ref _seen[(start + i) & 255];
            if (slot.Gref == s.Source.Ref && slot.Offset == s.Source.Offset && s.Length <= slot.Size)
                return;
        }
        throw new InvariantException($"a copy of gref {s.Source.Ref}+{s.Source.Offset} ({s.Length} bytes) that no consumed slot granted");
    }

    /// <summary>Each consumed slot answered once, in place, with the id of the one read (NULL for an extra).</summary>
    private void CheckAnswers(uint start, uint consumed, int answered)
    {
        if (_queue.ResponseProducer != _queue.RequestConsumer || Volatile.Read(ref _page.Header.RspProd) != _queue.ResponseProducer)
            throw new InvariantException($"a pass complete with req_cons {_queue.RequestConsumer}, rsp_prod_pvt {_queue.ResponseProducer}, rsp_prod {_page.Header.RspProd}");
        if (consumed > 0 && answered == 0)
            throw new InvariantException($"{consumed} requests consumed, no packet answered");
        for (var i = 0u; i < consumed; i++)
        {
            var response = _page.Read<NetifTxResponse>(start + i);
            if (response.Status == NetifResponseStatus.Null)
                continue;
            if (response.Status is not (NetifResponseStatus.Okay or NetifResponseStatus.Error))
                throw new InvariantException($"slot {start + i} answered status {response.Status}");
            if (response.Id != _seen[(start + i) & 255].Id)
                throw new InvariantException($"slot {start + i} answered id {response.Id}, its request had id {_seen[(start + i) & 255].Id}");
        }
    }

    /// <summary>The copies into the frames forwarded add up to them, and none of them failed.</summary>
    private static void CheckFrames(ReadOnlySpan<PacketBuffer> frames, ReadOnlySpan<GrantCopySegment> copies)
    {
        foreach (var frame in frames)
        {
            if (frame.Length < NetifConstants.EthernetHeaderLength || frame.Length > frame.Capacity)
                throw new InvariantException($"a frame of {frame.Length} bytes forwarded (buffer of {frame.Capacity})");
            long covered = 0;
            foreach (ref readonly var s in copies)
            {
                if (s.Dest.Virt < frame.Address || s.Dest.Virt >= frame.Address + frame.Capacity)
                    continue;
                if (s.Status != GrantStatus.Okay)
                    throw new InvariantException("a frame forwarded with a failed copy");
                if (s.Dest.Virt + s.Length > frame.Address + frame.Length)
                    throw new InvariantException("a copy beyond its frame's length");
                covered += s.Length;
            }
            if (covered != frame.Length)
                throw new InvariantException($"copies of {covered} bytes for a frame of {frame.Length}");
        }
    }

    private bool Fails(uint gref) => _failModulus != 0 && gref % _failModulus == 0;

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
