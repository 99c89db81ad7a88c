using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.EventChannels;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Rings;
using Backend.Xen.XenStore;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// A frontend that connects like Linux's netfront (its own domain, ring pages granted, rings initialised,
/// an unbound event channel, its keys in one transaction, then Connected) and then does whatever the test
/// says: raw requests and raw <c>req_prod</c> values on both rings, notifications at will. It is the
/// malicious guest of SIMXEN "Hostile frontends"; nothing it writes is checked. The actor tests use it case
/// by case, the soak (<c>Backend.Host soak</c>) lets one loose mid-run.
/// <para>
/// Memory: page 0 is the TX ring, page 1 the RX ring, then <see cref="TxDataPages"/> TX data pages (TX page
/// i has a grant reference of its own, granted read-only when the test fills it) and
/// <see cref="RxBufferPages"/> RX buffers.
/// </para>
/// </summary>
public sealed class HostileFrontend : IAsyncDisposable, IEventChannelHandler
{
    public const int TxDataPages = 32;
    public const int RxBufferPages = 32;
    private const uint TxRingFrame = 0;
    private const uint RxRingFrame = 1;
    private const uint FirstTxDataFrame = 2;
    private const uint FirstRxFrame = FirstTxDataFrame + TxDataPages;
    private const int MemoryPages = (int)FirstRxFrame + RxBufferPages;

    private readonly SimDomain _domain;
    private readonly SimGuestEventChannels _channels;
    private readonly nint _txPage;
    private readonly nint _rxPage;
    private readonly FrontRing<NetifTxRequest, NetifTxResponse> _tx;
    private readonly FrontRing<NetifRxRequest, NetifRxResponse> _rx;
    private readonly uint[] _txGrefs = new uint[TxDataPages];
    private readonly uint[] _rxGrefs = new uint[RxBufferPages];
    private int _notifications;

    private HostileFrontend(SimDomain domain, ushort backendDomId, string frontendPath, string backendPath, byte[] mac)
    {
        _domain = domain;
        BackendDomId = backendDomId;
        FrontendPath = frontendPath;
        BackendPath = backendPath;
        Mac = mac;
        _channels = new SimGuestEventChannels(domain);
        _txPage = PageAddress(TxRingFrame);
        _rxPage = PageAddress(RxRingFrame);
        _tx = new FrontRing<NetifTxRequest, NetifTxResponse>(_txPage);
        _rx = new FrontRing<NetifRxRequest, NetifRxResponse>(_rxPage);
    }

    public ushort DomId => _domain.DomId;
    public ushort BackendDomId { get; }
    public string FrontendPath { get; }
    public string BackendPath { get; }
    public byte[] Mac { get; }
    public uint Port { get; private set; }

    /// <summary>Notifications the backend sent us.</summary>
    public int Notifications => Volatile.Read(ref _notifications);

    /// <summary>The next TX request slot the test writes (req_prod_pvt).</summary>
    public uint TxProducer => _tx.RequestProducer;

    public uint TxResponseProducer => Volatile.Read(ref Header(_txPage).RspProd);
    public uint TxRequestProducer => Volatile.Read(ref Header(_txPage).ReqProd);
    public uint TxRequestEvent => Volatile.Read(ref Header(_txPage).ReqEvent);
    public uint RxResponseProducer => Volatile.Read(ref Header(_rxPage).RspProd);
    public uint RxRequestProducer => Volatile.Read(ref Header(_rxPage).ReqProd);
    public uint RxRequestEvent => Volatile.Read(ref Header(_rxPage).ReqEvent);

    /// <summary>Connects as netfront does and waits until the backend is Connected too.</summary>
    public static async Task<HostileFrontend> ConnectAsync(SimRoot root, IXenStore store, ushort domid, int handle, CancellationToken ct)
    {
        var fe = string.Create(CultureInfo.InvariantCulture, $"/local/domain/{domid}/device/vif/{handle}");
        var be = await store.ReadAsync(fe + "/backend", null, ct) ?? throw new InvalidOperationException($"{fe}/backend is missing");
        var backendId = ushort.Parse(await store.ReadAsync(fe + "/backend-id", null, ct) ?? "0", CultureInfo.InvariantCulture);
        var mac = (await store.ReadAsync(fe + "/mac", null, ct) ?? throw new InvalidOperationException($"{fe}/mac is missing"))
            .Split(':').Select(b => byte.Parse(b, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();

        // Memory and grant table before any xenstore key (SIMXEN "Memory and grants").
        var domain = SimDomain.CreateGuest(root, domid, MemoryPages);
        var front = new HostileFrontend(domain, backendId, fe, be, mac);
        try
        {
            await front.HandshakeAsync(store, ct);
            return front;
        }
        catch
        {
            await front.DisposeAsync();
            throw;
        }
    }

    private async Task HandshakeAsync(IXenStore store, CancellationToken ct)
    {
        var granter = _domain.Granter!;
        _tx.Initialise();
        _rx.Initialise();
        var txRef = granter.AllocateReference();
        granter.Grant(txRef, TxRingFrame, BackendDomId, readOnly: false);
        var rxRef = granter.AllocateReference();
        granter.Grant(rxRef, RxRingFrame, BackendDomId, readOnly: false);
        for (var i = 0; i < TxDataPages; i++)
            _txGrefs[i] = granter.AllocateReference();
        for (var i = 0; i < RxBufferPages; i++)
        {
            _rxGrefs[i] = granter.AllocateReference();
            granter.Grant(_rxGrefs[i], FirstRxFrame + (uint)i, BackendDomId, readOnly: false);
        }
        Port = _channels.AllocateUnbound(BackendDomId, this);

        await WaitForBackendStateAsync(store, XenbusState.InitWait, ct);
        await store.RunTransactionAsync(async t =>
        {
            await store.WriteAsync(FrontendPath + "/tx-ring-ref", txRef.ToString(CultureInfo.InvariantCulture), t, ct);
            await store.WriteAsync(FrontendPath + "/rx-ring-ref", rxRef.ToString(CultureInfo.InvariantCulture), t, ct);
            await store.WriteAsync(FrontendPath + "/event-channel", Port.ToString(CultureInfo.InvariantCulture), t, ct);
            await store.WriteAsync(FrontendPath + "/request-rx-copy", "1", t, ct);
            await store.WriteAsync(FrontendPath + "/feature-rx-notify", "1", t, ct);
            await store.WriteAsync(FrontendPath + "/feature-sg", "1", t, ct);
            await store.WriteAsync(FrontendPath + "/feature-gso-tcpv4", "1", t, ct);
        }, cancellationToken: ct);
        await store.WriteAsync(FrontendPath + "/state", "4", null, ct);
        await WaitForBackendStateAsync(store, XenbusState.Connected, ct);
    }

    private async Task WaitForBackendStateAsync(IXenStore store, XenbusState state, CancellationToken ct)
    {
        var wanted = ((int)state).ToString(CultureInfo.InvariantCulture);
        while (await store.ReadAsync(BackendPath + "/state", null, ct) != wanted)
            await Task.Delay(10, ct);
    }

    /// <summary>Fills TX data page <paramref name="page"/> at <paramref name="offset"/>, grants it read-only, returns its reference.</summary>
    public uint GrantTxData(int page, ReadOnlySpan<byte> data, int offset = 0)
    {
        data.CopyTo(_domain.Page(FirstTxDataFrame + (uint)page)[offset..]);
        _domain.Granter!.Grant(_txGrefs[page], FirstTxDataFrame + (uint)page, BackendDomId, readOnly: true);
        return _txGrefs[page];
    }

    /// <summary>Writes a request at req_prod_pvt (not yet visible to the backend).</summary>
    public void PutTx(NetifTxRequest request)
    {
        _tx.WriteRequest(_tx.RequestProducer, request);
        _tx.RequestProducer++;
    }

    /// <summary>Writes an extra-info slot at req_prod_pvt.</summary>
    public void PutTxExtra(NetifExtraInfo extra)
    {
        var slot = default(NetifTxRequest);
        Unsafe.WriteUnaligned(ref Unsafe.As<NetifTxRequest, byte>(ref slot), extra);
        PutTx(slot);
    }

    /// <summary>Publishes req_prod = req_prod_pvt and notifies, whatever req_event says.</summary>
    public void PushTx()
    {
        _tx.PushRequestsAndCheckNotify();
        Notify();
    }

    /// <summary>Publishes any TX req_prod and notifies.</summary>
    public void PublishTxRequestProducer(uint reqProd)
    {
        SetTxRequestProducer(reqProd);
        Notify();
    }

    /// <summary>Publishes any TX req_prod without notifying (a backend that is draining sees it anyway).</summary>
    public void SetTxRequestProducer(uint reqProd)
    {
        Volatile.Write(ref Header(_txPage).ReqProd, reqProd);
        Interlocked.MemoryBarrier();
    }

    /// <summary>Sets the TX ring's rsp_event: the backend notifies once its responses pass it.</summary>
    public void SetTxResponseEvent(uint rspEvent)
    {
        Volatile.Write(ref Header(_txPage).RspEvent, rspEvent);
        Interlocked.MemoryBarrier();
    }

    public NetifTxResponse TxResponse(uint index) => _tx.CopyResponse(index);

    /// <summary>Posts <paramref name="count"/> RX buffers (ids and pages from req_prod_pvt on), pushes and notifies.</summary>
    public void PostRxBuffers(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var slot = (int)(_rx.RequestProducer % RxBufferPages);
            _rx.WriteRequest(_rx.RequestProducer, new NetifRxRequest { Id = (ushort)slot, Gref = _rxGrefs[slot] });
            _rx.RequestProducer++;
        }
        _rx.PushRequestsAndCheckNotify();
        Notify();
    }

    /// <summary>Publishes any RX req_prod and notifies.</summary>
    public void PublishRxRequestProducer(uint reqProd)
    {
        SetRxRequestProducer(reqProd);
        Notify();
    }

    /// <summary>Publishes any RX req_prod without notifying.</summary>
    public void SetRxRequestProducer(uint reqProd)
    {
        Volatile.Write(ref Header(_rxPage).ReqProd, reqProd);
        Interlocked.MemoryBarrier();
    }

    public void Notify() => _channels.Notify(Port);

    /// <summary>This guest's notifications, and how many of them found the backend's bit already pending.</summary>
    public SimEventChannelCounters EventChannelCounters => _channels.Counters;

    void IEventChannelHandler.OnEvent(uint localPort) => Interlocked.Increment(ref _notifications);

    private unsafe nint PageAddress(uint gfn) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(_domain.Page(gfn)));

    private static unsafe ref SharedRingHeader Header(nint page) => ref *(SharedRingHeader*)page;

    public ValueTask DisposeAsync()
    {
        _channels.Dispose();
        _domain.Dispose();
        return ValueTask.CompletedTask;
    }
}
