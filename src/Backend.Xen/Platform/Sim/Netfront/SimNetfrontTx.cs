using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Rings;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// The TX ring of one connection, as Linux's xen-netfront drives it: a request id names one page of ours
/// (granted read-only per use, access ended when its response comes back), the first slot's size is the
/// frame's, a GSO extra follows the first slot, and the backend is notified only when
/// RING_PUSH_REQUESTS_AND_CHECK_NOTIFY says so. Responses are collected with the final check, so that
/// rsp_event always asks for the next one. Thread-safe: senders and the event loop meet under one lock.
/// </summary>
internal sealed class SimNetfrontTx
{
    private readonly FrontRing<NetifTxRequest, NetifTxResponse> _ring;
    private readonly SimDomain _domain;
    private readonly SimGranter _granter;
    private readonly ushort _backend;
    private readonly bool _sg;
    private readonly Action _notify;
    private readonly uint[] _grefs = new uint[NetifConstants.TxRingSize];
    private readonly bool[] _inFlight = new bool[NetifConstants.TxRingSize];
    private readonly bool[] _stuck = new bool[NetifConstants.TxRingSize];
    // A multicast control request's answer, by its id (it grants no page).
    private readonly TaskCompletionSource<short>?[] _control = new TaskCompletionSource<short>?[NetifConstants.TxRingSize];
    private readonly ushort[] _freeIds = new ushort[NetifConstants.TxRingSize];
    // A monitor, not a Lock: the event loop's Collect holds it while a send may come, and a Lock's first
    // blocking wait allocates (its event, and on Linux the waiting thread's managed wait state), which a
    // load generator's send must not, even once (SimNetfrontAllocationTests failed on it in a loaded suite).
    private readonly object _gate = new();
    private int _freeCount;
    private int _stuckCount;
    private TaskCompletionSource? _spaceWaiter;
    private TaskCompletionSource? _idleWaiter;
    private string? _broken;
    private bool _closed;
    private long _sent;
    private long _errors;
    private long _ringFull;
    private long _grantsStillInUse;

    /// <param name="firstFrame">The first of the ring's buffer pages, one per request id (<see cref="SimNetfrontLayout.TxFrames"/>).</param>
    private readonly uint _firstFrame;

    public SimNetfrontTx(nint ringPage, SimDomain domain, ushort backend, bool sg, Action notify, uint firstFrame = SimNetfrontLayout.FirstTxFrame)
    {
        _firstFrame = firstFrame;
        _ring = new FrontRing<NetifTxRequest, NetifTxResponse>(ringPage);
        _ring.Initialise();
        _domain = domain;
        _granter = domain.Granter!;
        _backend = backend;
        _sg = sg;
        _notify = notify;
        for (var id = 0; id < _grefs.Length; id++)
        {
            _grefs[id] = _granter.AllocateReference();
            _freeIds[_freeCount++] = (ushort)(_grefs.Length - 1 - id);
        }
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

    public long Sent => Interlocked.Read(ref _sent);
    public long Errors => Interlocked.Read(ref _errors);
    public long RingFull => Interlocked.Read(ref _ringFull);
    public long GrantsStillInUse => Interlocked.Read(ref _grantsStillInUse);

    /// <summary>Why the backend's responses were refused, or null.</summary>
    public string? Broken => Volatile.Read(ref _broken);

    /// <summary>Requests pushed whose responses have not come back yet.</summary>
    public int Outstanding
    {
        get
        {
            lock (_gate)
                return _grefs.Length - _freeCount - _stuckCount;
        }
    }

    /// <summary>
    /// Puts one frame on the ring; false when the ring (or our pages) has no room for it now. When
    /// <paramref name="space"/> is asked for and the frame did not fit, it completes once responses
    /// have freed room (or the ring is closed).
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> frame, in SimTxOptions options, bool wantSpace, out Task? space)
    {
        space = null;
        var slotBytes = options.SlotBytes;
        if (slotBytes is < 1 or > NetifConstants.PageSize)
            throw new ArgumentOutOfRangeException(nameof(options), slotBytes, "MaxSlotBytes must be 1..4096");
        if (frame.Length > SimNetfrontLayout.MaxFrame)
            throw new ArgumentException($"a frame of {frame.Length} bytes is longer than a TX chain can describe ({SimNetfrontLayout.MaxFrame})", nameof(frame));
        var slots = frame.Length == 0 ? 1 : (frame.Length + slotBytes - 1) / slotBytes;
        if (slots > 1 && !_sg)
            throw new InvalidOperationException($"a frame of {slots} slots needs feature-sg on both sides");
        var gso = options.GsoType != NetifGsoType.None;
        var hash = options.HasHash;
        var need = slots + (gso ? 1 : 0) + (hash ? 1 : 0);
        lock (_gate)
        {
            if (_closed)
                throw new InvalidOperationException("the TX ring is closed (the vif is not connected)");
            if (_broken is not null)
                throw new InvalidOperationException("the TX ring is unusable: " + _broken);
            if (_ring.FreeRequests < need || _freeCount < slots)
            {
                CollectLocked();
                if (_ring.FreeRequests < need || _freeCount < slots)
                {
                    _ringFull++;
                    // Frames held back by More are published now: the space waited for comes only from
                    // the backend's answers to them.
                    if (_ring.PushRequestsAndCheckNotify())
                        _notify();
                    if (wantSpace)
                        space = (_spaceWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                    return false;
                }
            }
            var flags = NetTxFlags.None;
            if (options.CsumBlank)
                flags |= NetTxFlags.CsumBlank;
            if (options.DataValidated)
                flags |= NetTxFlags.DataValidated;
            var prod = _ring.RequestProducer;
            var offset = 0;
            for (var s = 0; s < slots; s++)
            {
                var chunk = Math.Min(slotBytes, frame.Length - offset);
                var id = _freeIds[--_freeCount];
                var gfn = _firstFrame + id;
                frame.Slice(offset, chunk).CopyTo(_domain.Page(gfn));
                _granter.Grant(_grefs[id], gfn, _backend, readOnly: true);
                _inFlight[id] = true;
                var slotFlags = s + 1 < slots ? NetTxFlags.MoreData : NetTxFlags.None;
                if (s == 0)
                {
                    slotFlags |= flags | (gso || hash ? NetTxFlags.ExtraInfo : NetTxFlags.None);
                    _ring.WriteRequest(prod++, new NetifTxRequest { Gref = _grefs[id], Offset = 0, Flags = (ushort)slotFlags, Id = id, Size = (ushort)frame.Length });
                    if (gso)
                    {
                        var extra = new NetifExtraInfo { Type = NetifExtraType.Gso, Flags = hash ? NetifExtraFlags.More : (byte)0, GsoSize = options.GsoSize, GsoType = options.GsoType };
                        WriteExtra(ref prod, extra);
                    }
                    if (hash)
                    {
                        var extra = new NetifExtraInfo
                        {
                            Type = NetifExtraType.Hash, Flags = 0, HashType = options.HashType,
                            HashAlgorithm = (byte)NetifCtrlStatus.HashAlgorithmToeplitz, HashValue = options.HashValue,
                        };
                        WriteExtra(ref prod, extra);
                    }
                }
                else
                {
                    _ring.WriteRequest(prod++, new NetifTxRequest { Gref = _grefs[id], Offset = 0, Flags = (ushort)slotFlags, Id = id, Size = (ushort)chunk });
                }
                offset += chunk;
            }
            _ring.RequestProducer = prod;
            _sent++;
            if (!options.More && _ring.PushRequestsAndCheckNotify())
                _notify();
            return true;
        }
    }

    /// <summary>
    /// Puts a multicast control request on the ring, as netif.h describes it ("dummy transmit requests
    /// containing XEN_NETIF_EXTRA_TYPE_MCAST_{ADD,DEL} extra-info fragments"): a request that grants no
    /// page (size 0) with one <paramref name="type"/> extra
    /// (MCAST_ADD or MCAST_DEL) naming <paramref name="address"/>. The task completes with the backend's
    /// answer (NETIF_RSP_OKAY or NETIF_RSP_ERROR); null when the ring has no room now.
    /// </summary>
    public Task<short>? TrySendMulticastControl(byte type, MacAddress address)
    {
        lock (_gate)
        {
            if (_closed)
                throw new InvalidOperationException("the TX ring is closed (the vif is not connected)");
            if (_broken is not null)
                throw new InvalidOperationException("the TX ring is unusable: " + _broken);
            if (_ring.FreeRequests < 2 || _freeCount < 1)
            {
                CollectLocked();
                if (_ring.FreeRequests < 2 || _freeCount < 1)
                    return null;
            }
            var id = _freeIds[--_freeCount];
            var answer = _control[id] = new TaskCompletionSource<short>(TaskCreationOptions.RunContinuationsAsynchronously);
            _inFlight[id] = true;
            var prod = _ring.RequestProducer;
            _ring.WriteRequest(prod++, new NetifTxRequest { Gref = 0, Offset = 0, Flags = (ushort)NetTxFlags.ExtraInfo, Id = id, Size = 0 });
            var extra = new NetifExtraInfo { Type = type, Flags = 0 };
            var slot = default(NetifTxRequest);
            Unsafe.WriteUnaligned(ref Unsafe.As<NetifTxRequest, byte>(ref slot), extra);
            address.Write(MemoryMarshal.AsBytes(new Span<NetifTxRequest>(ref slot))[2..8]);
            _ring.WriteRequest(prod++, slot);
            _ring.RequestProducer = prod;
            if (_ring.PushRequestsAndCheckNotify())
                _notify();
            return answer.Task;
        }
    }

    private void WriteExtra(ref uint prod, NetifExtraInfo extra)
    {
        var slot = default(NetifTxRequest);
        Unsafe.WriteUnaligned(ref Unsafe.As<NetifTxRequest, byte>(ref slot), extra);
        _ring.WriteRequest(prod++, slot);
    }

    /// <summary>Completes once every request pushed so far has its response (or the ring closes).</summary>
    public Task WhenIdle()
    {
        lock (_gate)
        {
            if (_closed || _freeCount + _stuckCount == _grefs.Length)
                return Task.CompletedTask;
            CollectLocked();
            if (_freeCount + _stuckCount == _grefs.Length)
                return Task.CompletedTask;
            return (_idleWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>Collects every response (xennet_tx_buf_gc): ends each grant, frees each id.</summary>
    public void Collect()
    {
        lock (_gate)
        {
            if (!_closed)
                CollectLocked();
        }
    }

    /// <summary>
    /// No more sends; ends every grant it can (the backend has unmapped and stopped by now) and frees
    /// the references. A grant the backend still holds is left alone, its reference never reused.
    /// </summary>
    public void Close()
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            if (_closed)
                return;
            _closed = true;
            for (var id = 0; id < _grefs.Length; id++)
            {
                // An unanswered multicast control request fails (its reference, never granted, ends at once).
                _control[id]?.TrySetException(new InvalidOperationException("the vif disconnected before the backend answered the multicast control request"));
                _control[id] = null;
                if (_inFlight[id] || _stuck[id])
                {
                    if (!_granter.EndAccess(_grefs[id]))
                    {
                        _grantsStillInUse++;
                        continue;
                    }
                }
                _granter.FreeReference(_grefs[id]);
            }
            waiter = _spaceWaiter;
            _spaceWaiter = null;
            _idleWaiter?.TrySetResult();
            _idleWaiter = null;
        }
        waiter?.TrySetException(new InvalidOperationException("the vif disconnected while a send waited for ring space"));
    }

    private void CollectLocked()
    {
        var freed = false;
        do
        {
            var pending = _ring.UnconsumedResponses();
            if (pending > (uint)(_ring.RequestProducer - _ring.ResponseConsumer))
            {
                // RING_RESPONSE_PROD_OVERFLOW: more responses than requests; Linux's netfront gives up on the ring.
                _broken = $"the backend's rsp_prod is {pending} ahead of rsp_cons with only {_ring.RequestProducer - _ring.ResponseConsumer} requests outstanding";
                break;
            }
            var cons = _ring.ResponseConsumer;
            for (var i = 0u; i < pending; i++, cons++)
            {
                var rsp = _ring.CopyResponse(cons);
                if (rsp.Status == NetifResponseStatus.Null)
                    continue;
                var id = rsp.Id;
                if (id >= _grefs.Length || !_inFlight[id])
                {
                    _broken = $"TX response for id {id}, which has no request outstanding";
                    _ring.ResponseConsumer = cons + 1;
                    return;
                }
                _inFlight[id] = false;
                if (_control[id] is { } answer)
                {
                    _control[id] = null;
                    _freeIds[_freeCount++] = id;
                    freed = true;
                    answer.TrySetResult(rsp.Status);
                    continue;
                }
                if (rsp.Status != NetifResponseStatus.Okay)
                    _errors++;
                if (_granter.EndAccess(_grefs[id]))
                {
                    _freeIds[_freeCount++] = id;
                    freed = true;
                }
                else
                {
                    // The backend answered but still pins the page: it may not be reused until it lets go.
                    _grantsStillInUse++;
                    _stuck[id] = true;
                    _stuckCount++;
                }
            }
            _ring.ResponseConsumer = cons;
        }
        while (_ring.FinalCheckForResponses());
        if (_stuckCount > 0)
            freed |= RetryStuck();
        if (freed && _spaceWaiter is { } waiter)
        {
            _spaceWaiter = null;
            waiter.TrySetResult();
        }
        if (_idleWaiter is { } idle && _freeCount + _stuckCount == _grefs.Length)
        {
            _idleWaiter = null;
            idle.TrySetResult();
        }
    }

    private bool RetryStuck()
    {
        var freed = false;
        for (var id = 0; id < _stuck.Length && _stuckCount > 0; id++)
        {
            if (_stuck[id] && _granter.EndAccess(_grefs[id]))
            {
                _stuck[id] = false;
                _stuckCount--;
                _freeIds[_freeCount++] = (ushort)id;
                freed = true;
            }
        }
        return freed;
    }
}
