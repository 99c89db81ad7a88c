using System.Runtime.CompilerServices;
using Backend.Xen.Abi;
using Backend.Xen.Rings;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// The RX ring of one connection, as Linux's xen-netfront drives it with rx-copy: one page per request,
/// request id = ring index &amp; (size-1), so the buffer behind a response is found from its ring index
/// (as netfront's <c>xennet_get_rx_skb(queue, cons)</c>; extras carry no id). A response's bytes are copied
/// out once into the reassembly buffer, its grant ended, and the page posted again at once. Chains
/// (NETRXF_more_data, NETRXF_extra_info) are reassembled across polls, so a chain the backend has not
/// finished pushing is simply continued later. Polled only from one thread at a time (the lock makes
/// connect-time polls safe against the event loop).
/// </summary>
internal sealed class SimNetfrontRx
{
    private readonly FrontRing<NetifRxRequest, NetifRxResponse> _ring;
    private readonly SimDomain _domain;
    private readonly SimGranter _granter;
    private readonly ushort _backend;
    private readonly Action _notify;
    private readonly Func<ISimFrameConsumer?> _consumer;
    private readonly uint[] _grefs = new uint[NetifConstants.RxRingSize];
    private readonly bool[] _posted = new bool[NetifConstants.RxRingSize];
    private readonly byte[] _frame = new byte[SimNetfrontLayout.MaxFrame + 1];
    private readonly uint _firstFrame;
    private readonly Lock _gate = new();
    private bool _closed;
    private string? _broken;

    // The chain being reassembled.
    private bool _inFrame;
    private bool _expectExtra;
    private bool _moreData;
    private bool _frameBad;
    private int _length;
    private int _slots;
    private NetRxFlags _flags;
    private byte _gsoType;
    private ushort _gsoSize;
    // The XDP extra's headroom (0: none came): where the data starts in each data slot of this frame.
    private ushort _xdpHeadroom;
    // The hash extra, if one came.
    private bool _hasHash;
    private byte _hashType;
    private byte _hashAlgorithm;
    private uint _hash;

    private long _received;
    private long _errors;
    private long _grantsStillInUse;
    private long _consumerFailures;

    /// <param name="firstFrame">The first of the ring's buffer pages, one per slot (<see cref="SimNetfrontLayout.RxFrames"/>).</param>
    public SimNetfrontRx(nint ringPage, SimDomain domain, ushort backend, Action notify, Func<ISimFrameConsumer?> consumer, uint firstFrame = SimNetfrontLayout.FirstRxFrame)
    {
        _firstFrame = firstFrame;
        _ring = new FrontRing<NetifRxRequest, NetifRxResponse>(ringPage);
        _ring.Initialise();
        _domain = domain;
        _granter = domain.Granter!;
        _backend = backend;
        _notify = notify;
        _consumer = consumer;
        for (var id = 0; id < _grefs.Length; id++)
            _grefs[id] = _granter.AllocateReference();
    }

    /// <summary>The ring's indices, for a test's failure message.</summary>
    public string RingIndices
    {
        get
        {
            lock (_gate)
                return _ring.ToString();
        }
    }

    public long Received => Interlocked.Read(ref _received);
    public long Errors => Interlocked.Read(ref _errors);
    public long GrantsStillInUse => Interlocked.Read(ref _grantsStillInUse);
    public long ConsumerFailures => Interlocked.Read(ref _consumerFailures);
    public string? Broken => Volatile.Read(ref _broken);

    /// <summary>Posts a granted page in every free request slot; notifies if the backend asked.</summary>
    public void Refill()
    {
        lock (_gate)
        {
            if (!_closed && _broken is null)
                RefillLocked();
        }
    }

    /// <summary>Consumes every response, delivers complete frames, re-posts the pages, and re-arms rsp_event.</summary>
    public void Poll()
    {
        lock (_gate)
        {
            if (_closed || _broken is not null)
                return;
            do
            {
                var pending = _ring.UnconsumedResponses();
                if (pending > _ring.RequestProducer - _ring.ResponseConsumer)
                {
                    _broken = $"the backend's RX rsp_prod is {pending} ahead of rsp_cons with only {_ring.RequestProducer - _ring.ResponseConsumer} requests outstanding";
                    return;
                }
                var cons = _ring.ResponseConsumer;
                for (var i = 0u; i < pending; i++, cons++)
                {
                    var rsp = _ring.CopyResponse(cons);
                    if (!Consume(cons, rsp))
                    {
                        _ring.ResponseConsumer = cons + 1;
                        return;
                    }
                }
                _ring.ResponseConsumer = cons;
                RefillLocked();
            }
            while (_ring.FinalCheckForResponses());
        }
    }

    /// <summary>No more polls; ends every grant it can and frees the references.</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (_closed)
                return;
            _closed = true;
            for (var id = 0; id < _grefs.Length; id++)
            {
                if (_posted[id] && !_granter.EndAccess(_grefs[id]))
                {
                    _grantsStillInUse++;
                    continue;
                }
                _granter.FreeReference(_grefs[id]);
            }
        }
    }

    private void RefillLocked()
    {
        var prod = _ring.RequestProducer;
        var posted = false;
        while (_ring.FreeRequests > 0)
        {
            var id = (ushort)(prod & (NetifConstants.RxRingSize - 1));
            if (_posted[id])
                break;
            var gfn = _firstFrame + id;
            _granter.Grant(_grefs[id], gfn, _backend, readOnly: false);
            _posted[id] = true;
            _ring.WriteRequest(prod++, new NetifRxRequest { Id = id, Gref = _grefs[id] });
            _ring.RequestProducer = prod;
            posted = true;
        }
        if (posted && _ring.PushRequestsAndCheckNotify())
            _notify();
    }

    /// <summary>One response; false when the ring can no longer be trusted.</summary>
    private bool Consume(uint index, NetifRxResponse rsp)
    {
        var id = (int)(index & (NetifConstants.RxRingSize - 1));
        if (!_posted[id])
        {
            _broken = $"RX response at index {index} for a slot with no buffer posted";
            return false;
        }
        _posted[id] = false;
        if (!_granter.EndAccess(_grefs[id]))
        {
            _grantsStillInUse++;
            _broken = $"RX grant {_grefs[id]} still in use after its response";
            return false;
        }
        if (_expectExtra)
        {
            var extra = Unsafe.As<NetifRxResponse, NetifExtraInfo>(ref rsp);
            if (extra.Type == NetifExtraType.Gso)
            {
                _gsoType = extra.GsoType;
                _gsoSize = extra.GsoSize;
            }
            else if (extra.Type == NetifExtraType.Xdp)
            {
                _xdpHeadroom = extra.XdpHeadroom;
            }
            else if (extra.Type == NetifExtraType.Hash)
            {
                _hasHash = true;
                _hashType = extra.HashType;
                _hashAlgorithm = extra.HashAlgorithm;
                _hash = extra.HashValue;
            }
            else if (extra.Type is NetifExtraType.None or >= NetifExtraType.Max)
            {
                _frameBad = true;
            }
            _expectExtra = (extra.Flags & NetifExtraFlags.More) != 0;
            if (!_expectExtra && _xdpHeadroom != 0)
                SkipFirstSlotHeadroom();
        }
        else
        {
            var flags = (NetRxFlags)rsp.Flags;
            if (!_inFrame)
            {
                _inFrame = true;
                _flags = flags;
                _expectExtra = (flags & NetRxFlags.ExtraInfo) != 0;
            }
            _moreData = (flags & NetRxFlags.MoreData) != 0;
            _slots++;
            // The first slot is copied whole: its extras, which say whether a headroom leads it, come after it
            // (the frame buffer has room for it: SimNetfrontLayout.MaxFrame is above the largest headroom a page leaves).
            var skip = _slots > 1 ? _xdpHeadroom : 0;
            if (rsp.Status < skip || rsp.Offset + rsp.Status > NetifConstants.PageSize || _slots > SimNetfrontLayout.MaxRxSlots
                || _length + rsp.Status - skip > SimNetfrontLayout.MaxFrame)
            {
                _frameBad = true;
            }
            else if (!_frameBad)
            {
                _domain.Page(_firstFrame + (uint)id).Slice(rsp.Offset + skip, rsp.Status - skip).CopyTo(_frame.AsSpan(_length));
                _length += rsp.Status - skip;
            }
        }
        if (_inFrame && !_expectExtra && !_moreData)
            Deliver();
        return true;
    }

    /// <summary>
    /// As netfront with XDP: the backend left the XDP extra's headroom before the data of every data slot,
    /// the first included, whose status counts it (Linux netback's xenvif_rx_data_slot).
    /// </summary>
    private void SkipFirstSlotHeadroom()
    {
        if (_frameBad)
            return;
        if (_length < _xdpHeadroom)
        {
            _frameBad = true;
            return;
        }
        _frame.AsSpan(_xdpHeadroom, _length - _xdpHeadroom).CopyTo(_frame);
        _length -= _xdpHeadroom;
    }

    private void Deliver()
    {
        if (_frameBad)
        {
            _errors++;
        }
        else
        {
            _received++;
            var info = new SimRxFrameInfo(_flags, _gsoType, _gsoSize, _slots, _xdpHeadroom, _hasHash, _hashType, _hashAlgorithm, _hash);
            try
            {
                _consumer()?.OnFrame(_frame.AsSpan(0, _length), info);
            }
            catch (Exception)
            {
                // A consumer's bug must not leave the ring half consumed.
                _consumerFailures++;
            }
        }
        _inFrame = _expectExtra = _moreData = _frameBad = false;
        _length = _slots = 0;
        _flags = NetRxFlags.None;
        _gsoType = 0;
        _gsoSize = 0;
        _xdpHeadroom = 0;
        _hasHash = false;
        _hashType = _hashAlgorithm = 0;
        _hash = 0;
    }
}
