using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Backend.Fuzz.Rings;
using Backend.Xen.Abi;
using Backend.Xen.Ctrl;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Offload;
using Backend.Xen.Rings;

namespace Backend.Fuzz.Ctrl;

/// <summary>
/// A vif's control ring (feature-ctrl-ring, XEN_NETIF_CTRL_TYPE_*): <see cref="CtrlRequestHandler"/> behind a
/// <see cref="BackRing{TRequest, TResponse}"/>, driven as <c>CtrlRingActor</c> drives it (this project sees
/// Backend.Xen only, so the target plays the actor's <c>Drain</c>/<c>OnCopied</c>/<c>Respond</c>): req_prod
/// read once per look and an impossible one a fatal stop, each slot copied once, <c>Begin</c>, the planned
/// grant copy run (by the target, as the hypervisor: it fails for a grant reference the frontend has not
/// granted, one the input makes fail, or a run past the page), <c>Complete</c>, the response written into
/// the request's slot, pushed, and <c>FinalCheckForRequests</c>; a turn serves at most a ring's worth and
/// continues in the next. The input writes the requests (types and values biased toward the edges),
/// req_prod, the frontend's granted pages (the key, the mapping), the number of queues (a re-attach with
/// another count), and frames hashed through <see cref="VifHashConfig"/> and <see cref="CtrlRingQueueSelector"/>.
/// </summary>
/// <remarks>
/// Invariants: every consumed request is answered exactly once, in its own slot, with the id and type of the
/// one read of it, and a status of SUCCESS, NOT_SUPPORTED or INVALID_PARAMETER; <see cref="CtrlHashModel"/>
/// (Linux's rules, written independently) predicts every status and data word, whether a copy is planned,
/// and the <see cref="VifHash.Current"/> after each request (algorithm, flags, the 40 key bytes, the
/// mapping's size and entries); a refused request or a query publishes nothing, and no published
/// configuration ever changes; a planned copy is from the frontend's domain and the request's grant
/// reference at offset 0, exactly the key's length or the entries' bytes, into the scratch memory (within
/// <see cref="CtrlRequestHandler.ScratchSize"/>); rewriting the slot and the granted page while the copy is
/// in flight changes no response; an impossible req_prod stops the ring and nothing is consumed after it;
/// a turn that goes on has consumed; nothing is written outside the ring's slots (canaries before, after,
/// and past the last slot); a queue chosen from a frame is always below the queue count, also once the
/// queues shrink below a mapping entry; no exception escapes.
/// </remarks>
public sealed unsafe class CtrlRingTarget : FuzzTarget
{
    private const ushort FrontendDomId = 9;
    private const int PageSize = NetifConstants.PageSize;
    private const int RingSize = NetifConstants.CtrlRingSize;
    // CtrlRingActor's MaxRequestsPerTurn.
    private const int MaxRequestsPerTurn = NetifConstants.CtrlRingSize;
    private const int InitialQueues = 4;
    private const int MaxQueues = 8;
    private const int MaxFlood = 1023;
    // Turns a drain may take: each one that goes on consumes, and a drain consumes at most what is posted
    // (a ring's worth, and the flood posted while it runs).
    private const int TurnGuard = 2 * (RingSize + MaxFlood) + 4;
    // Stale bytes in the scratch memory before the first copy, as the actor's pooled buffer has: a key
    // whose tail is not zeroed shows.
    private const byte ScratchFill = 0xA5;
    private const int FrameBuffer = 256;

    // What the drain's turn did, as the actor would go on: it ends (idle, or stopped), goes on in a
    // continuation, or waits for its copy (OnCopied, then another turn).
    private const int TurnIdle = 0;
    private const int TurnStopped = 1;
    private const int TurnContinues = 2;
    private const int TurnCopying = 3;

    /// <summary>What a value byte below 0x40 picks (modulo 16): the edges of every check.</summary>
    internal static readonly uint[] Interesting =
    [
        0, 1, 2, 3, 40, 41, 127, 128, 129, 1024, 1025, 0x4000_0000, 0x8000_0000, 0xFFFF_FF80, 0xFFFF_FFFE, uint.MaxValue,
    ];

    // The frontend's granted pages by grant reference; a copy from any other reference fails.
    private readonly Dictionary<uint, byte[]> _granted = [];
    // The actor's scratch memory (pooled, so never cleared between copies); pinned, for the copy's address.
    private readonly byte[] _scratch = GC.AllocateArray<byte>(CtrlRequestHandler.ScratchSize, pinned: true);
    private readonly byte[] _frame = new byte[FrameBuffer];
    private readonly byte[] _slots = new byte[RingSize * sizeof(NetifCtrlRequest)];
    private readonly byte[] _beforeKey = new byte[CtrlHashModel.KeySize];
    private readonly uint[] _beforeMapping = new uint[CtrlHashModel.MaxMappingSize];

    private GuardedRingPage _page = null!;
    private BackRing<NetifCtrlRequest, NetifCtrlResponse> _ring = null!;
    private VifHash _hash = null!;
    private CtrlRequestHandler _handler = null!;
    private CtrlRingQueueSelector _selector = null!;
    private CtrlHashModel _model = null!;
    private uint _writer;
    private byte _failModulus;
    private byte _scribble;
    private bool _stopped;
    private uint _stoppedAt;
    private int _flood;
    private NetifCtrlRequest _floodTemplate;

    // The request being served: the one read of its slot, the model's prediction, and its copy.
    private NetifCtrlRequest _read;
    private uint _readIndex;
    private uint _expectedStatus;
    private uint _expectedData;
    private GrantCopySegment _copy;
    private VifHashConfig _before = null!;
    private int _beforeSize;

    public override string Name => "ctrl";

    /// <summary>What the input can do, one byte each (modulo <see cref="Count"/>), followed by its operands.</summary>
    public static class Op
    {
        /// <summary>
        /// A request into the next slot, pushed: id u16, type (a byte: below 0xF0 that byte % 11, one of
        /// the known types; else a u16 follows), then data0, data1, data2, each a value (<see cref="ReadValue"/>).
        /// </summary>
        public const int Request = 0;
        /// <summary>req_prod = u32.</summary>
        public const int RequestProducer = 1;
        /// <summary>req_prod = rsp_prod + u16 % 260: old slots read again, or an impossible count.</summary>
        public const int Replay = 2;
        public const int Drain = 3;
        /// <summary>
        /// Grant reference byte, then a mode byte % 5 (a reference not yet granted is granted first, its
        /// page zeroed): 0, bytes at offset u16 % 4096 (count byte, the bytes); 1, 32-bit entries from the
        /// entry byte on (count byte, then each entry a byte: below 0xF0 that byte % 9, a queue number or
        /// one past the most queues; else a u32 follows); 2, every entry one value; 3, every byte the byte;
        /// 4, the grant revoked.
        /// </summary>
        public const int Grant = 4;
        /// <summary>Copies whose grant reference is a multiple of the byte fail (0: none).</summary>
        public const int CopyFailures = 5;
        /// <summary>The connection's queues = 1 + byte % 8 (the handler's and the model's), as a re-attach sets them.</summary>
        public const int Queues = 6;
        /// <summary>While a copy is in flight the frontend rewrites its slot and the granted page with this byte (0: it does not).</summary>
        public const int ScribbleInFlight = 7;
        /// <summary>
        /// A frame hashed and steered: shape byte (bits 0-1 IPv4, IPv6, raw, not IP; bit 2 TCP else UDP;
        /// bit 3 an IPv4 fragment; bit 4 cut short), queue byte (bit 7 set: a count of bits 0-6 % 10, 0
        /// included; else the connection's), a raw hash u32 for <c>MapQueue</c> alone, then for a raw frame
        /// a length byte and its bytes, else 32 address bytes, two ports u16, and when cut short the length byte.
        /// </summary>
        public const int Hash = 8;
        /// <summary>
        /// Count u16 % 1024, then a request as <see cref="Request"/>: posted while the ring has room, the
        /// rest posted one by one as responses free slots (ids counting up), as a busy frontend does.
        /// </summary>
        public const int Flood = 9;
        /// <summary>rsp_event = u32.</summary>
        public const int ResponseEvent = 10;
        public const int Count = 11;
    }

    protected override void Execute(ReadOnlySpan<byte> input)
    {
        // The ring's entry: the union of a 16-byte request and a 12-byte response.
        _page = new GuardedRingPage(sizeof(NetifCtrlRequest), RingSize);
        try
        {
            _ring = new BackRing<NetifCtrlRequest, NetifCtrlResponse>(_page.Address);
            if (_ring.Size != RingSize)
                throw new InvariantException($"a ctrl ring of {_ring.Size} slots, not {RingSize}");
            // As the actor's PreStart: everything before rsp_prod has been answered.
            _ring.AttachAtResponseProducer();
            _hash = new VifHash();
            _handler = new CtrlRequestHandler(_hash, FrontendDomId, InitialQueues);
            _selector = new CtrlRingQueueSelector(_hash);
            _model = new CtrlHashModel(InitialQueues);
            _granted.Clear();
            _scratch.AsSpan().Fill(ScratchFill);
            _writer = 0;
            _failModulus = _scribble = 0;
            _stopped = false;
            _stoppedAt = 0;
            _flood = 0;
            _floodTemplate = _read = default;
            CheckConfig();

            var script = new FuzzInput(input);
            while (!script.IsEmpty)
                Step(ref script);
            DrainChecked();
            _page.CheckCanaries();
        }
        finally
        {
            _page.Dispose();
        }
    }

    private void Step(ref FuzzInput script)
    {
        switch (script.Byte() % Op.Count)
        {
            case Op.Request:
                Post(ReadRequest(ref script));
                break;
            case Op.RequestProducer:
                Volatile.Write(ref _page.Header.ReqProd, script.UInt32());
                break;
            case Op.Replay:
                Volatile.Write(ref _page.Header.ReqProd, unchecked(_page.Header.RspProd + (uint)(script.UInt16() % 260)));
                break;
            case Op.Drain:
                DrainChecked();
                break;
            case Op.Grant:
                Grant(ref script);
                break;
            case Op.CopyFailures:
                _failModulus = script.Byte();
                break;
            case Op.Queues:
                _handler.Queues = _model.Queues = 1 + (script.Byte() % MaxQueues);
                break;
            case Op.ScribbleInFlight:
                _scribble = script.Byte();
                break;
            case Op.Hash:
                Hash(ref script);
                break;
            case Op.Flood:
                _flood = script.UInt16() % (MaxFlood + 1);
                _floodTemplate = ReadRequest(ref script);
                while (_flood > 0 && HasRoom())
                    PostFlood();
                break;
            case Op.ResponseEvent:
                Volatile.Write(ref _page.Header.RspEvent, script.UInt32());
                break;
        }
    }

    private static NetifCtrlRequest ReadRequest(ref FuzzInput script)
    {
        var id = script.UInt16();
        var typeByte = script.Byte();
        var type = typeByte < 0xF0 ? (ushort)(typeByte % 11) : script.UInt16();
        return new NetifCtrlRequest { Id = id, Type = type, Data0 = ReadValue(ref script), Data1 = ReadValue(ref script), Data2 = ReadValue(ref script) };
    }

    /// <summary>A value byte: below 0x40 one of <see cref="Interesting"/>, below 0xF0 the small number byte − 0x40 (a grant reference, a length, an offset, flags), else a u32 follows.</summary>
    private static uint ReadValue(ref FuzzInput script)
    {
        var b = script.Byte();
        return b switch
        {
            < 0x40 => Interesting[b % Interesting.Length],
            < 0xF0 => (uint)(b - 0x40),
            _ => script.UInt32(),
        };
    }

    /// <summary>The frontend writes the next slot and pushes req_prod to it.</summary>
    private void Post(in NetifCtrlRequest request)
    {
        _page.Write(_writer, request);
        _writer++;
        Volatile.Write(ref _page.Header.ReqProd, _writer);
    }

    // A well-behaved frontend posts only into slots whose responses it has seen.
    private bool HasRoom() => unchecked(_writer - Volatile.Read(ref _page.Header.RspProd)) < RingSize;

    private void PostFlood()
    {
        var request = _floodTemplate;
        _floodTemplate.Id++;
        _flood--;
        Post(request);
    }

    private void Grant(ref FuzzInput script)
    {
        var gref = (uint)script.Byte();
        var mode = script.Byte() % 5;
        if (mode == 4)
        {
            _granted.Remove(gref);
            return;
        }
        if (!_granted.TryGetValue(gref, out var page))
            _granted[gref] = page = new byte[PageSize];
        switch (mode)
        {
            case 0:
            {
                var offset = script.UInt16() % PageSize;
                var bytes = script.Take(script.Byte());
                bytes[..Math.Min(bytes.Length, PageSize - offset)].CopyTo(page.AsSpan(offset));
                break;
            }
            case 1:
            {
                var entry = (int)script.Byte();
                var count = script.Byte();
                for (var i = 0; i < count && !script.IsEmpty; i++, entry++)
                {
                    var e = script.Byte();
                    var value = e < 0xF0 ? (uint)(e % (MaxQueues + 1)) : script.UInt32();
                    BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(entry * sizeof(uint)), value);
                }
                break;
            }
            case 2:
            {
                var value = ReadValue(ref script);
                MemoryMarshal.Cast<byte, uint>(page.AsSpan()).Fill(BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));
                break;
            }
            case 3:
                page.AsSpan().Fill(script.Byte());
                break;
        }
    }

    private void DrainChecked()
    {
        var start = _ring.RequestConsumer;
        var answeredBefore = _ring.ResponseProducer;
        for (var turn = 0; ; turn++)
        {
            if (turn > TurnGuard)
                throw new InvariantException($"a drain did not end after {TurnGuard} turns");
            var before = _ring.RequestConsumer;
            var outcome = Turn();
            var consumed = unchecked(_ring.RequestConsumer - before);
            if (outcome is TurnIdle or TurnStopped)
                break;
            if (consumed == 0)
                throw new InvariantException("a turn that goes on consumed nothing");
            if (outcome == TurnCopying)
                OnCopied();
        }
        if (_ring.RequestConsumer != _ring.ResponseProducer || Volatile.Read(ref _page.Header.RspProd) != _ring.ResponseProducer)
            throw new InvariantException($"a drain ended with req_cons {_ring.RequestConsumer}, rsp_prod_pvt {_ring.ResponseProducer}, rsp_prod {_page.Header.RspProd}");
        if (unchecked(_ring.RequestConsumer - start) != unchecked(_ring.ResponseProducer - answeredBefore))
            throw new InvariantException("a drain answered a different number of requests than it consumed");
        if (_stopped && _ring.RequestConsumer != _stoppedAt)
            throw new InvariantException($"a stopped ring consumed requests ({_stoppedAt} to {_ring.RequestConsumer})");
        _page.CheckCanaries();
    }

    /// <summary>CtrlRingActor.Drain: one turn.</summary>
    private int Turn()
    {
        if (_stopped)
            return TurnStopped;
        var served = 0;
        do
        {
            var reqProd = _ring.ReadRequestProducer();
            var overflow = _ring.RequestProducerOverflow(reqProd);
            // ring.h's RING_REQUEST_PROD_OVERFLOW: more requests outstanding than the ring has slots.
            if (overflow != unchecked(reqProd - _ring.ResponseProducer) > RingSize)
                throw new InvariantException($"req_prod {reqProd} with rsp_prod_pvt {_ring.ResponseProducer} judged overflow={overflow}");
            if (overflow)
            {
                // The vif is disabled: nothing more is consumed.
                _stopped = true;
                _stoppedAt = _ring.RequestConsumer;
                return TurnStopped;
            }
            while (_ring.RequestConsumer != reqProd)
            {
                if (served == MaxRequestsPerTurn)
                    return TurnContinues;
                _readIndex = _ring.RequestConsumer;
                _read = _ring.CopyRequest(_readIndex);
                if (!MemoryMarshal.AsBytes(new ReadOnlySpan<NetifCtrlRequest>(in _read)).SequenceEqual(_page.Entry(_readIndex)))
                    throw new InvariantException($"the copy of slot {_readIndex} is not what the slot holds");
                _ring.RequestConsumer++;
                served++;
                Remember();
                var modelCopies = _model.Begin(_read, out var copyLength, out _expectedStatus, out _expectedData);
                fixed (byte* scratch = _scratch)
                {
                    if (_handler.Begin(_read, (nint)scratch, out _copy, out var response))
                    {
                        if (!modelCopies)
                            throw new InvariantException($"{Describe(_read)}: a copy planned where Linux answers {_expectedStatus} at once");
                        CheckCopy(copyLength, (nint)scratch);
                        return TurnCopying;
                    }
                    if (modelCopies)
                        throw new InvariantException($"{Describe(_read)}: answered {response.Status} at once where Linux copies {copyLength} bytes");
                    Respond(response);
                }
            }
        }
        while (_ring.FinalCheckForRequests());
        return TurnIdle;
    }

    /// <summary>A planned copy: from the frontend's grant named by the request, at offset 0, exactly the bytes Linux copies, into the scratch.</summary>
    private void CheckCopy(int length, nint scratch)
    {
        var s = _copy;
        if (s.Flags != GrantCopySegment.SourceGref)
            throw new InvariantException($"{Describe(_read)}: a copy with flags {s.Flags}, not from a grant into local memory");
        if (s.Source.DomId != FrontendDomId || s.Source.Ref != _read.Data0 || s.Source.Offset != 0)
            throw new InvariantException($"{Describe(_read)}: a copy from domain {s.Source.DomId} gref {s.Source.Ref} offset {s.Source.Offset}");
        if (s.Length != length)
            throw new InvariantException($"{Describe(_read)}: a copy of {s.Length} bytes where Linux copies {length}");
        if (s.Dest.Virt < scratch || s.Dest.Virt + s.Length > scratch + CtrlRequestHandler.ScratchSize)
            throw new InvariantException($"{Describe(_read)}: a copy of {s.Length} bytes to scratch{s.Dest.Virt - scratch:+#;-#;+0}, outside its {CtrlRequestHandler.ScratchSize} bytes");
    }

    /// <summary>CtrlRingActor.OnCopied: the hypervisor runs the copy, the frontend may meddle, Complete answers.</summary>
    private void OnCopied()
    {
        var gref = _copy.Source.Ref;
        var copied = false;
        ReadOnlySpan<byte> bytes = default;
        if (!_granted.TryGetValue(gref, out var page))
        {
            _copy.Status = GrantStatus.BadGntref;
        }
        else if (_failModulus != 0 && gref % _failModulus == 0)
        {
            _copy.Status = GrantStatus.GeneralError;
        }
        else if (_copy.Source.Offset + _copy.Length > PageSize)
        {
            _copy.Status = GrantStatus.BadCopyArg;
        }
        else
        {
            bytes = page.AsSpan(_copy.Source.Offset, _copy.Length);
            bytes.CopyTo(new Span<byte>((void*)_copy.Dest.Virt, _copy.Length));
            _copy.Status = GrantStatus.Okay;
            copied = true;
        }
        // The model is told what the grant held at the copy; what the frontend writes after it must not matter.
        _expectedStatus = _model.Complete(_read, copied, bytes);
        if (_scribble != 0)
        {
            _page.Entry(_readIndex).Fill(_scribble);
            if (page is not null)
                page.AsSpan().Fill(_scribble);
        }
        Respond(_handler.Complete(_read, _copy, _scratch.AsSpan(0, CtrlRequestHandler.ScratchSize)));
    }

    /// <summary>CtrlRingActor.Respond, with the checks of the answer and of the configuration after it.</summary>
    private void Respond(in NetifCtrlResponse response)
    {
        if (response.Id != _read.Id || response.Type != _read.Type)
            throw new InvariantException($"{Describe(_read)}: answered with id {response.Id} type {response.Type}");
        if (response.Status is not (NetifCtrlStatus.Success or NetifCtrlStatus.NotSupported or NetifCtrlStatus.InvalidParameter))
            throw new InvariantException($"{Describe(_read)}: answered status {response.Status}");
        if (response.Status != _expectedStatus || response.Data != _expectedData)
            throw new InvariantException($"{Describe(_read)}: answered status {response.Status} data {response.Data}, Linux answers {_expectedStatus} data {_expectedData}");
        CheckPublished(response.Status);
        CheckConfig();

        if (_ring.ResponseProducer != _readIndex || unchecked(_ring.RequestConsumer - _ring.ResponseProducer) != 1)
            throw new InvariantException($"the answer to slot {_readIndex} goes to slot {_ring.ResponseProducer} (req_cons {_ring.RequestConsumer})");
        _page.Entries.CopyTo(_slots);
        _ring.WriteResponse(_ring.ResponseProducer, response);
        _ring.ResponseProducer++;
        _ring.PushResponsesAndCheckNotify();
        if (Volatile.Read(ref _page.Header.RspProd) != _ring.ResponseProducer)
            throw new InvariantException("a response not pushed");
        var slot = (int)(_readIndex & (RingSize - 1)) * sizeof(NetifCtrlRequest);
        var entries = _page.Entries;
        if (!entries[..slot].SequenceEqual(_slots.AsSpan(0, slot))
            || !entries[(slot + sizeof(NetifCtrlResponse))..].SequenceEqual(_slots.AsSpan(slot + sizeof(NetifCtrlResponse))))
            throw new InvariantException($"the answer to slot {_readIndex} wrote outside it");
        var written = _page.Read<NetifCtrlResponse>(_readIndex);
        if (!MemoryMarshal.AsBytes(new ReadOnlySpan<NetifCtrlResponse>(in written)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<NetifCtrlResponse>(in response))))
            throw new InvariantException($"slot {_readIndex} does not hold its answer");

        // A busy frontend posts the next request into the slot just answered.
        if (_flood > 0 && HasRoom())
            PostFlood();
    }

    /// <summary>Keeps what the configuration was before a request, to check that a published one never changes.</summary>
    private void Remember()
    {
        _before = _hash.Current;
        _before.Key.CopyTo(_beforeKey);
        _beforeSize = _before.Mapping.Length;
        _before.Mapping.CopyTo(_beforeMapping);
    }

    /// <summary>
    /// The data path reads a published configuration whole, without a lock: it must never change, and a
    /// request that changes nothing (refused, or a query) publishes nothing.
    /// </summary>
    private void CheckPublished(uint status)
    {
        if (!_before.Key.SequenceEqual(_beforeKey) || !_before.Mapping.SequenceEqual(_beforeMapping.AsSpan(0, _beforeSize)))
            throw new InvariantException($"{Describe(_read)}: a configuration already published was changed in place");
        var query = _read.Type is NetifCtrlType.GetHashFlags or NetifCtrlType.GetHashMappingSize;
        if ((status != NetifCtrlStatus.Success || query) && !ReferenceEquals(_hash.Current, _before))
            throw new InvariantException($"{Describe(_read)}: answered {status} and published a configuration");
    }

    /// <summary>VifHash.Current is the model's state: algorithm, flags, all 40 key bytes, the table.</summary>
    private void CheckConfig()
    {
        var config = _hash.Current;
        if (config.Algorithm != _model.Algorithm || config.Flags != _model.Flags)
            throw new InvariantException($"{Describe(_read)}: algorithm {config.Algorithm} flags {config.Flags}, Linux has {_model.Algorithm} flags {_model.Flags}");
        if (!config.Key.SequenceEqual(_model.Key))
            throw new InvariantException($"{Describe(_read)}: key {Convert.ToHexString(config.Key)}, Linux has {Convert.ToHexString(_model.Key)}");
        if (!config.Mapping.SequenceEqual(_model.Mapping))
            throw new InvariantException($"{Describe(_read)}: mapping of {config.Mapping.Length} [{string.Join(',', config.Mapping.ToArray())}], Linux has {_model.Size} [{string.Join(',', _model.Mapping.ToArray())}]");
        if (config.Hashing != _model.Hashing)
            throw new InvariantException($"hashing {config.Hashing} with algorithm {config.Algorithm} flags {config.Flags}");
    }

    /// <summary>A frame through TryHashFrame, SelectQueue, MapQueue and the selector: always a queue below the count.</summary>
    private void Hash(ref FuzzInput script)
    {
        var shape = script.Byte();
        var queueByte = script.Byte();
        var rawHash = script.UInt32();
        var frame = _frame.AsSpan(0, BuildFrame(ref script, shape));
        var queues = (queueByte & 0x80) != 0 ? (queueByte & 0x7F) % 10 : _model.Queues;
        var config = _hash.Current;

        var hashed = config.TryHashFrame(frame, out var hash, out var hashType);
        var expected = false;
        uint expectedHash = 0;
        byte expectedType = 0;
        if (_model.Hashing)
            expected = Toeplitz.TryHashFrame(_model.Key, frame, _model.Flags, out expectedHash, out expectedType);
        if (hashed != expected || hash != expectedHash || hashType != expectedType)
            throw new InvariantException($"TryHashFrame gave {hashed} {hash:x8} type {hashType}, the key and types set give {expected} {expectedHash:x8} type {expectedType}");
        if (hashed && (hashType > 3 || (_model.Flags & (1u << hashType)) == 0))
            throw new InvariantException($"a hash of type {hashType} with types {_model.Flags} enabled");

        var selected = config.SelectQueue(frame, queues);
        var expectedQueue = queues < 1 ? 0 : _model.Algorithm == NetifCtrlStatus.HashAlgorithmNone ? -1 : _model.QueueOf(hashed ? hash : 0, queues);
        if (selected != expectedQueue || (selected >= 0 && selected >= Math.Max(queues, 1)))
            throw new InvariantException($"SelectQueue gave {selected} of {queues} queues, expected {expectedQueue}");

        var mapped = config.MapQueue(rawHash, queues);
        var expectedMapped = queues < 1 ? 0 : _model.QueueOf(rawHash, queues);
        if (mapped != expectedMapped || mapped < 0 || mapped >= Math.Max(queues, 1))
            throw new InvariantException($"MapQueue({rawHash:x8}) gave {mapped} of {queues} queues, expected {expectedMapped}");

        var steered = _selector.Select(frame, queues);
        var expectedSteered = queues <= 1 ? 0 : selected >= 0 ? selected : FlowHashQueueSelector.Instance.Select(frame, queues);
        if (steered != expectedSteered || steered < 0 || steered >= Math.Max(queues, 1))
            throw new InvariantException($"the selector gave {steered} of {queues} queues, expected {expectedSteered}");
    }

    /// <summary>Writes a frame of the shape into <see cref="_frame"/>; its length.</summary>
    private int BuildFrame(ref FuzzInput script, byte shape)
    {
        var frame = _frame.AsSpan();
        frame.Clear();
        var kind = shape & 3;
        if (kind == 2)
        {
            var raw = script.Take(script.Byte());
            raw.CopyTo(frame);
            return raw.Length;
        }
        var tcp = (shape & 4) != 0;
        var transportLength = tcp ? 20 : 8;
        const int Payload = 8;
        frame[..6].Fill(0x02);
        frame[6..12].Fill(0x04);
        var ipv6 = kind == 1;
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], kind switch { 0 => 0x0800, 1 => 0x86DD, _ => 0x0806 });
        var ip = frame[14..];
        int ipLength;
        Span<byte> addresses = stackalloc byte[32];
        script.Bytes(addresses);
        if (ipv6)
        {
            ipLength = 40;
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(transportLength + Payload));
            ip[6] = (byte)(tcp ? 6 : 17);
            ip[7] = 64;
            addresses.CopyTo(ip[8..]);
        }
        else
        {
            ipLength = 20;
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipLength + transportLength + Payload));
            // MF for a fragment (not hashed as TCP), else DF.
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)((shape & 8) != 0 ? 0x2000 : 0x4000));
            ip[8] = 64;
            ip[9] = (byte)(tcp ? 6 : 17);
            addresses[..8].CopyTo(ip[12..]);
        }
        var transport = ip[ipLength..];
        BinaryPrimitives.WriteUInt16BigEndian(transport, script.UInt16());
        BinaryPrimitives.WriteUInt16BigEndian(transport[2..], script.UInt16());
        if (tcp)
            transport[12] = 0x50;
        var length = 14 + ipLength + transportLength + Payload;
        if ((shape & 0x10) != 0)
            length = Math.Min(length, script.Byte());
        return length;
    }

    private static string Describe(in NetifCtrlRequest r) => $"request id {r.Id} type {r.Type} ({r.Data0}, {r.Data1}, {r.Data2})";

    public override IEnumerable<FuzzSeed> Seeds()
    {
        const uint Toeplitz = NetifCtrlStatus.HashAlgorithmToeplitz;
        const uint KeyGref = 5;
        const uint MapGref = 6;
        var rssKey = Convert.FromHexString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");
        ushort id = 1;

        yield return new FuzzScript()
            .Request(id++, NetifCtrlType.SetHashAlgorithm, Toeplitz)
            .Request(id++, NetifCtrlType.SetHashAlgorithm, 2)
            .Request(id++, NetifCtrlType.SetHashAlgorithm, uint.MaxValue)
            .Request(id++, NetifCtrlType.SetHashAlgorithm, NetifCtrlStatus.HashAlgorithmNone)
            .Byte(Op.Drain).Seed("hash-algorithm-good-and-bad");

        yield return new FuzzScript()
            .Request(id++, NetifCtrlType.GetHashFlags)
            .Request(id++, NetifCtrlType.SetHashFlags, NetifCtrlStatus.HashTypeIpv4)
            .Request(id++, NetifCtrlType.SetHashAlgorithm, Toeplitz)
            .Request(id++, NetifCtrlType.GetHashFlags)
            .Request(id++, NetifCtrlType.SetHashFlags, 0xF)
            .Request(id++, NetifCtrlType.SetHashFlags, 0x10)
            .Request(id++, NetifCtrlType.SetHashFlags, 0x8000_0001)
            .Request(id++, NetifCtrlType.SetHashFlags, 0)
            .Byte(Op.Drain).Seed("hash-flags-good-and-bad");

        // A 40-byte key, a 41-byte one refused, a 16-byte one whose tail is zeroed over the 40's, a cleared one;
        // a frame hashed after each.
        var keys = new FuzzScript().GrantBytes(KeyGref, 0, rssKey)
            .Request(id++, NetifCtrlType.SetHashAlgorithm, Toeplitz).Request(id++, NetifCtrlType.SetHashFlags, 0xF)
            .Request(id++, NetifCtrlType.SetHashKey, KeyGref, 40).Byte(Op.Drain).HashTcp4()
            .Request(id++, NetifCtrlType.SetHashKey, KeyGref, 41).Byte(Op.Drain).HashTcp4()
            .Request(id++, NetifCtrlType.SetHashKey, KeyGref, 16).Byte(Op.Drain).HashTcp4()
            .Request(id++, NetifCtrlType.SetHashKey, 0xDEAD, 0).Byte(Op.Drain).HashTcp4();
        yield return keys.Seed("key-40-and-41");

        yield return new FuzzScript()
            .Request(id++, NetifCtrlType.GetHashMappingSize)
            .Request(id++, NetifCtrlType.SetHashMappingSize, 128)
            .Request(id++, NetifCtrlType.SetHashMappingSize, 129)
            .Request(id++, NetifCtrlType.SetHashMappingSize, uint.MaxValue)
            .Request(id++, NetifCtrlType.SetHashMappingSize, 0)
            .Byte(Op.Drain).Seed("mapping-size-128-and-129");

        // Runs whose end wraps to 0 or 1, a length whose byte count wraps, and one good run and one past the end.
        yield return new FuzzScript().GrantEntries(MapGref, 0, [1, 2, 3, 0])
            .Request(id++, NetifCtrlType.SetHashMappingSize, 128)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 128, 0xFFFF_FF80)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 2, uint.MaxValue)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 0x4000_0000, 0)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 1025, 0)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 4, 124)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 4, 125)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 0, 128)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 0, 129)
            .Byte(Op.Drain).Seed("mapping-run-that-wraps");

        // Entry 4 with 4 queues: refused, the table left as it was; then 0..3 taken.
        // (Grants and the queue count apply at once, requests at the next drain: each group is drained.)
        yield return new FuzzScript().GrantEntries(MapGref, 0, [0, 1, 2, 4])
            .Request(id++, NetifCtrlType.SetHashMappingSize, 8)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 4, 0).Byte(Op.Drain)
            .GrantEntries(MapGref, 3, [3])
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 4, 4).Byte(Op.Drain)
            .Byte(Op.Queues).Byte(2)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 4, 0)
            .Byte(Op.Drain).Seed("mapping-entry-equals-queues");

        // A grant that fails by modulus, one never granted, good ones, then one revoked: the failed ones change nothing.
        yield return new FuzzScript().GrantBytes(10, 0, rssKey).GrantBytes(KeyGref, 0, rssKey).GrantEntries(MapGref, 0, [1, 1])
            .Byte(Op.CopyFailures).Byte(10)
            .Request(id++, NetifCtrlType.SetHashKey, KeyGref, 40)
            .Request(id++, NetifCtrlType.SetHashKey, 10, 40)
            .Request(id++, NetifCtrlType.SetHashKey, 7, 40)
            .Request(id++, NetifCtrlType.SetHashMappingSize, 2)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 2, 0)
            .Request(id++, NetifCtrlType.SetHashMapping, 20, 2, 0).Byte(Op.Drain)
            .Byte(Op.Grant).Byte((int)MapGref).Byte(4)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 1, 1)
            .Byte(Op.Drain).Seed("failed-copy");

        // A table of 3s set with 4 queues, then 2 queues: every choice still below 2.
        var shrink = new FuzzScript().GrantBytes(KeyGref, 0, rssKey)
            .Byte(Op.Grant).Byte((int)MapGref).Byte(2).Value(3)
            .Request(id++, NetifCtrlType.SetHashAlgorithm, Toeplitz).Request(id++, NetifCtrlType.SetHashFlags, 0xF)
            .Request(id++, NetifCtrlType.SetHashKey, KeyGref, 40)
            .Request(id++, NetifCtrlType.SetHashMappingSize, 128)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 128, 0)
            .Byte(Op.Drain).Byte(Op.Queues).Byte(1)
            .HashTcp4();
        shrink.Byte(Op.Hash).Byte(1 | 4).Byte(0).UInt32(0xFFFF_FFFF).Bytes(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()).UInt16(443).UInt16(51000);
        shrink.Byte(Op.Hash).Byte(0 | 8).Byte(0x80 | 7).UInt32(77).Bytes(new byte[32]).UInt16(1).UInt16(2);
        shrink.Byte(Op.Hash).Byte(3).Byte(0x80).UInt32(5).Bytes(new byte[32]).UInt16(1).UInt16(2);
        shrink.Byte(Op.Hash).Byte(2).Byte(0x80 | 1).UInt32(6).Byte(3).Bytes([1, 2, 3]);
        shrink.Byte(Op.Hash).Byte(0x10 | 4).Byte(0).UInt32(7).Bytes(new byte[32]).UInt16(1).UInt16(2).Byte(40);
        yield return shrink.Seed("queues-shrink-after-table-of-3s");

        yield return new FuzzScript()
            .Request(id++, NetifCtrlType.GetHashMappingSize).Request(id++, NetifCtrlType.GetHashMappingSize)
            .Byte(Op.Drain)
            .Request(id++, NetifCtrlType.GetHashMappingSize)
            .Byte(Op.RequestProducer).UInt32(300).Byte(Op.Drain)
            .Request(id++, NetifCtrlType.GetHashMappingSize).Byte(Op.Drain).Seed("impossible-req-prod");

        // 128 posted at once, the other 172 as responses free their slots: a turn ends at 128 and continues.
        yield return new FuzzScript().Flood(300, 1000, NetifCtrlType.GetHashMappingSize).Byte(Op.Drain).Seed("flood-of-300");

        // Each request a copy: a turn ends at every copy.
        yield return new FuzzScript().GrantBytes(KeyGref, 0, rssKey).Byte(Op.CopyFailures).Byte(3)
            .Flood(200, 2000, NetifCtrlType.SetHashKey, KeyGref, 40).Byte(Op.Drain)
            .Flood(50, 3000, NetifCtrlType.SetHashKey, 3, 17).Byte(Op.Drain).Seed("flood-of-key-copies");

        yield return new FuzzScript()
            .Request(id++, NetifCtrlType.Invalid)
            .Request(id++, NetifCtrlType.GetGrefMappingSize)
            .Request(id++, NetifCtrlType.AddGrefMapping, 1, 2, 3)
            .Request(id++, NetifCtrlType.DelGrefMapping, 1, 2, 3)
            .Request(id++, 11)
            .Request(id++, 0xFFFF, uint.MaxValue, uint.MaxValue, uint.MaxValue)
            .Byte(Op.Drain).Seed("unknown-types");

        // The slot and the granted page rewritten while each copy is in flight.
        yield return new FuzzScript().GrantBytes(KeyGref, 0, rssKey).GrantEntries(MapGref, 0, [2, 3, 0, 1])
            .Byte(Op.ScribbleInFlight).Byte(0x77)
            .Request(id++, NetifCtrlType.SetHashKey, KeyGref, 40)
            .Request(id++, NetifCtrlType.SetHashMappingSize, 4)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 4, 0)
            .Request(id++, NetifCtrlType.SetHashMapping, MapGref, 1, 3)
            .Request(id++, NetifCtrlType.SetHashKey, KeyGref, 40)
            .Byte(Op.Drain).Seed("scribbled-in-flight");

        // Old slots (responses now) read again as requests, then a replay past the ring.
        yield return new FuzzScript()
            .Request(id++, NetifCtrlType.SetHashAlgorithm, Toeplitz).Request(id++, NetifCtrlType.GetHashFlags)
            .Request(id++, NetifCtrlType.SetHashMappingSize, 3).Byte(Op.Drain)
            .Byte(Op.Replay).UInt16(128).Byte(Op.Drain)
            .Byte(Op.Replay).UInt16(129).Byte(Op.Drain).Seed("replayed-slots");

        yield return new FuzzScript().Byte(Op.ResponseEvent).UInt32(2)
            .Request(id++, NetifCtrlType.GetHashMappingSize).Request(id++, NetifCtrlType.GetHashMappingSize)
            .Byte(Op.Drain).Seed("response-event");
    }
}
