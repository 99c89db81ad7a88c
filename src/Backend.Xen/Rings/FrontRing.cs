using System.Runtime.CompilerServices;
using Backend.Xen.Abi;

namespace Backend.Xen.Rings;

/// <summary>
/// The frontend side of a shared ring page (xen/io/ring.h SHARED_RING_INIT, FRONT_RING): used by the
/// simulated netfront and by tests that arrange rings in ordinary memory. Not thread-safe.
/// </summary>
public sealed unsafe class FrontRing<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    private readonly SharedRingHeader* _sring;
    private readonly byte* _entries;
    private readonly int _entrySize;
    private readonly uint _mask;

    /// <param name="sharedPage">A 4096-byte page, valid for this object's lifetime.</param>
    public FrontRing(nint sharedPage)
    {
        if (sharedPage == 0)
            throw new ArgumentException("the shared ring page is null", nameof(sharedPage));
        _sring = (SharedRingHeader*)sharedPage;
        _entries = (byte*)sharedPage + SharedRingHeader.EntriesOffset;
        _entrySize = RingGeometry<TRequest, TResponse>.EntrySize;
        Size = RingGeometry<TRequest, TResponse>.Size;
        _mask = (uint)Size - 1;
    }

    /// <summary>__RING_SIZE for one page.</summary>
    public int Size { get; }

    /// <summary>req_prod_pvt: the next request slot to write (private until pushed).</summary>
    public uint RequestProducer { get; set; }

    /// <summary>rsp_cons: the next response to consume.</summary>
    public uint ResponseConsumer { get; set; }

    /// <summary>The shared and private indices in one line, for a test's failure message.</summary>
    public override string ToString() =>
        $"req_prod {Volatile.Read(ref _sring->ReqProd)} req_event {Volatile.Read(ref _sring->ReqEvent)} " +
        $"rsp_prod {Volatile.Read(ref _sring->RspProd)} rsp_event {Volatile.Read(ref _sring->RspEvent)} " +
        $"req_prod_pvt {RequestProducer} rsp_cons {ResponseConsumer}";

    /// <summary>RING_FREE_REQUESTS: slots the frontend may still fill.</summary>
    public uint FreeRequests => unchecked((uint)Size - (RequestProducer - ResponseConsumer));

    /// <summary>
    /// SHARED_RING_INIT then FRONT_RING_INIT: indices to 0, events to 1 (notify at the first message),
    /// the header's padding zeroed.
    /// </summary>
    public void Initialise()
    {
        new Span<byte>(_sring, SharedRingHeader.EntriesOffset).Clear();
        Volatile.Write(ref _sring->ReqEvent, 1u);
        Volatile.Write(ref _sring->RspEvent, 1u);
        RequestProducer = 0;
        ResponseConsumer = 0;
    }

    /// <summary>Places the shared and private indices at <paramref name="start"/>, so that tests can
    /// exercise wrap-around at 2^32 without pushing four billion requests.</summary>
    public void InitialiseAt(uint start)
    {
        Initialise();
        Volatile.Write(ref _sring->ReqProd, start);
        Volatile.Write(ref _sring->RspProd, start);
        Volatile.Write(ref _sring->ReqEvent, unchecked(start + 1));
        Volatile.Write(ref _sring->RspEvent, unchecked(start + 1));
        RequestProducer = start;
        ResponseConsumer = start;
    }

    public void WriteRequest(uint index, in TRequest request) =>
        Unsafe.WriteUnaligned(_entries + (nint)(index & _mask) * _entrySize, request);

    /// <summary>
    /// RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: publishes req_prod = req_prod_pvt after the requests
    /// (release), full barrier, then true when the backend asked to be notified of one of them.
    /// </summary>
    public bool PushRequestsAndCheckNotify()
    {
        var old = Volatile.Read(ref _sring->ReqProd);
        var @new = RequestProducer;
        Volatile.Write(ref _sring->ReqProd, @new);
        Interlocked.MemoryBarrier();
        var reqEvent = Volatile.Read(ref _sring->ReqEvent);
        return unchecked(@new - reqEvent) < unchecked(@new - old);
    }

    /// <summary>RING_HAS_UNCONSUMED_RESPONSES: responses pushed but not yet consumed. The volatile read
    /// of rsp_prod orders the response reads that follow (rmb).</summary>
    public uint UnconsumedResponses() => unchecked(Volatile.Read(ref _sring->RspProd) - ResponseConsumer);

    /// <summary>The single read of a response slot.</summary>
    public TResponse CopyResponse(uint index) =>
        Unsafe.ReadUnaligned<TResponse>(_entries + (nint)(index & _mask) * _entrySize);

    /// <summary>
    /// RING_FINAL_CHECK_FOR_RESPONSES: when none are pending, asks for a notification at the next one
    /// (rsp_event = rsp_cons + 1) and checks again after a full barrier.
    /// </summary>
    public bool FinalCheckForResponses()
    {
        if (UnconsumedResponses() != 0)
            return true;
        Volatile.Write(ref _sring->RspEvent, unchecked(ResponseConsumer + 1));
        Interlocked.MemoryBarrier();
        return UnconsumedResponses() != 0;
    }
}
