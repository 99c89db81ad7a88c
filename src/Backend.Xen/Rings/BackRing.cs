using System.Runtime.CompilerServices;
using Backend.Xen.Abi;

namespace Backend.Xen.Rings;

/// <summary>
/// The backend side of a shared ring page (xen/io/ring.h BACK_RING). It never initialises the shared
/// ring: the frontend owns that. Indices are free-running and wrap mod 2^32; every slot access is
/// masked, so no value the frontend writes can move a read or write outside the page.
/// Not thread-safe: one ring actor owns an instance. All index arithmetic is unchecked on purpose.
/// </summary>
public sealed unsafe class BackRing<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    private readonly SharedRingHeader* _sring;
    private readonly byte* _entries;
    private readonly int _entrySize;
    private readonly uint _mask;

    /// <param name="sharedPage">A mapped 4096-byte ring page, valid for this object's lifetime.</param>
    public BackRing(nint sharedPage)
    {
        if (sharedPage == 0)
            throw new ArgumentException("the shared ring page is null", nameof(sharedPage));
        _sring = (SharedRingHeader*)sharedPage;
        _entries = (byte*)sharedPage + SharedRingHeader.EntriesOffset;
        _entrySize = RingGeometry<TRequest, TResponse>.EntrySize;
        Size = RingGeometry<TRequest, TResponse>.Size;
        _mask = (uint)Size - 1;
    }

    /// <summary>__RING_SIZE for one page (tx/rx 256, ctrl 128).</summary>
    public int Size { get; }

    /// <summary>req_cons: the next request to consume (private to the backend).</summary>
    public uint RequestConsumer { get; set; }

    /// <summary>rsp_prod_pvt: the next response slot to write (private until pushed).</summary>
    public uint ResponseProducer { get; set; }

    /// <summary>
    /// Re-attaches to a ring already in use (after a restart): requests up to the shared rsp_prod have
    /// been answered, so consumption resumes there. Requests consumed but not answered before the crash
    /// are consumed again, which may repeat a frame but never leaves a request without a response.
    /// </summary>
    public void AttachAtResponseProducer()
    {
        var rspProd = Volatile.Read(ref _sring->RspProd);
        RequestConsumer = rspProd;
        ResponseProducer = rspProd;
    }

    /// <summary>
    /// Reads the frontend's req_prod once. The volatile read has acquire semantics, which is ring.h's
    /// rmb(): no request slot read that follows can be satisfied before req_prod was read.
    /// </summary>
    public uint ReadRequestProducer() => Volatile.Read(ref _sring->ReqProd);

    /// <summary>RING_REQUEST_PROD_OVERFLOW: more than <see cref="Size"/> requests outstanding, which a
    /// correct frontend can never produce; the vif is to be disabled.</summary>
    public bool RequestProducerOverflow(uint reqProd) => unchecked(reqProd - ResponseProducer) > (uint)Size;

    /// <summary>
    /// RING_UNCONSUMED_REQUESTS, with ring.h's clamp: never more than the slots the backend has not yet
    /// answered, so a hostile req_prod cannot make the backend walk over slots it still owns.
    /// </summary>
    public uint UnconsumedRequests(uint reqProd)
    {
        var requests = unchecked(reqProd - RequestConsumer);
        var room = unchecked((uint)Size - (RequestConsumer - ResponseProducer));
        return Math.Min(requests, room);
    }

    /// <summary>
    /// RING_COPY_REQUEST: the single read of a request slot. The caller validates the copy and never
    /// looks at the slot again (the frontend may rewrite it at any time).
    /// </summary>
    public TRequest CopyRequest(uint index) =>
        Unsafe.ReadUnaligned<TRequest>(_entries + (nint)(index & _mask) * _entrySize);

    /// <summary>Writes a response at slot <paramref name="index"/> &amp; (Size-1); not visible to the
    /// frontend until <see cref="PushResponsesAndCheckNotify"/>.</summary>
    public void WriteResponse(uint index, in TResponse response) =>
        Unsafe.WriteUnaligned(_entries + (nint)(index & _mask) * _entrySize, response);

    /// <summary>
    /// RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publishes rsp_prod = rsp_prod_pvt after the responses
    /// (release, ring.h's wmb), then a full barrier before reading rsp_event, so that either the frontend
    /// sees the new responses or the backend sees its new rsp_event. True when the frontend asked to be
    /// notified of one of the responses just pushed.
    /// </summary>
    public bool PushResponsesAndCheckNotify()
    {
        var old = Volatile.Read(ref _sring->RspProd);
        var @new = ResponseProducer;
        Volatile.Write(ref _sring->RspProd, @new);
        Interlocked.MemoryBarrier();
        var rspEvent = Volatile.Read(ref _sring->RspEvent);
        return unchecked(@new - rspEvent) < unchecked(@new - old);
    }

    /// <summary>
    /// RING_FINAL_CHECK_FOR_REQUESTS: when the ring looks empty, asks for a notification at the next
    /// request (req_event = req_cons + 1), then checks again after a full barrier to close the race with
    /// a frontend that pushed just before seeing the new req_event. True when there is work to do.
    /// </summary>
    public bool FinalCheckForRequests()
    {
        if (UnconsumedRequests(ReadRequestProducer()) != 0)
            return true;
        Volatile.Write(ref _sring->ReqEvent, unchecked(RequestConsumer + 1));
        Interlocked.MemoryBarrier();
        return UnconsumedRequests(ReadRequestProducer()) != 0;
    }

    /// <summary>Sets req_event (e.g. req_prod + 1 while a partial packet waits for its last slots), with
    /// a full barrier after it so that a following re-read of req_prod cannot miss a push.</summary>
    public void SetRequestEvent(uint value)
    {
        Volatile.Write(ref _sring->ReqEvent, value);
        Interlocked.MemoryBarrier();
    }
}
