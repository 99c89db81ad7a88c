using Backend.Xen.Abi;
using Backend.Xen.Rings;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// The control ring of one connection, as a frontend that sets hashing drives it (Windows PV drivers'
/// RSS): the ring page it initialises and grants, its own event channel (<c>event-channel-ctrl</c>), and
/// one data page granted read-only for what a request points at (a hash key, a run of the mapping table).
/// A request is sent and its response awaited (<see cref="RequestAsync"/>), one at a time as the data page
/// is shared; any values may be sent, so a test can also be a hostile frontend.
/// </summary>
internal sealed class SimNetfrontCtrl
{
    private readonly FrontRing<NetifCtrlRequest, NetifCtrlResponse> _ring;
    private readonly SimDomain _domain;
    private readonly Action _notify;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly Lock _gate = new();
    private TaskCompletionSource<NetifCtrlResponse>? _pending;
    private ushort _pendingId;
    private ushort _nextId;
    private string? _broken;

    public SimNetfrontCtrl(nint ringPage, SimDomain domain, uint dataFrame, uint dataRef, Action notify)
    {
        _ring = new FrontRing<NetifCtrlRequest, NetifCtrlResponse>(ringPage);
        _ring.Initialise();
        _domain = domain;
        DataFrame = dataFrame;
        DataRef = dataRef;
        _notify = notify;
    }

    /// <summary>The page a request's grant reference names (<see cref="DataRef"/>), granted read-only to the backend.</summary>
    public uint DataFrame { get; }

    public uint DataRef { get; }

    public string? Broken => Volatile.Read(ref _broken);

    /// <summary>Writes <paramref name="data"/> at the start of the data page, for the next request to point at.</summary>
    public void WriteData(ReadOnlySpan<byte> data) => data.CopyTo(_domain.Page(DataFrame));

    /// <summary>Pushes one request (its id chosen here) and waits for its response.</summary>
    public async Task<NetifCtrlResponse> RequestAsync(ushort type, uint data0, uint data1, uint data2, CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            TaskCompletionSource<NetifCtrlResponse> pending;
            bool notify;
            lock (_gate)
            {
                if (_broken is { } broken)
                    throw new InvalidOperationException(broken);
                pending = _pending = new TaskCompletionSource<NetifCtrlResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
                _pendingId = _nextId++;
                var prod = _ring.RequestProducer;
                _ring.WriteRequest(prod, new NetifCtrlRequest { Id = _pendingId, Type = type, Data0 = data0, Data1 = data1, Data2 = data2 });
                _ring.RequestProducer = prod + 1;
                notify = _ring.PushRequestsAndCheckNotify();
            }
            if (notify)
                _notify();
            Poll();
            return await pending.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    /// <summary>Consumes the responses (on a notification, or to check after a push); re-arms rsp_event.</summary>
    public void Poll()
    {
        lock (_gate)
        {
            if (_broken is not null)
                return;
            do
            {
                var pending = _ring.UnconsumedResponses();
                if (pending > _ring.RequestProducer - _ring.ResponseConsumer)
                {
                    Fail($"the backend's ctrl rsp_prod is {pending} ahead of rsp_cons with only {_ring.RequestProducer - _ring.ResponseConsumer} requests outstanding");
                    return;
                }
                for (var i = 0u; i < pending; i++)
                {
                    var rsp = _ring.CopyResponse(_ring.ResponseConsumer);
                    _ring.ResponseConsumer++;
                    if (_pending is null || rsp.Id != _pendingId)
                    {
                        Fail($"ctrl response id {rsp.Id} for no request outstanding");
                        return;
                    }
                    _pending.TrySetResult(rsp);
                    _pending = null;
                }
            }
            while (_ring.FinalCheckForResponses());
        }
    }

    private void Fail(string reason)
    {
        _broken = reason;
        _pending?.TrySetException(new InvalidOperationException(reason));
        _pending = null;
    }

    /// <summary>A hostile frontend's move: publishes <paramref name="reqProd"/> as the ring's req_prod and notifies.</summary>
    public void PushRequestProducer(uint reqProd)
    {
        lock (_gate)
        {
            _ring.RequestProducer = reqProd;
            _ring.PushRequestsAndCheckNotify();
        }
        _notify();
    }

    /// <summary>No more requests; whoever waits is told.</summary>
    public void Close()
    {
        lock (_gate)
            Fail("the connection is closed");
    }
}
