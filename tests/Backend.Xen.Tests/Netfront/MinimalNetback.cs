using System.Globalization;
using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.EventChannels;
using Backend.Xen.Grants;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Rings;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.Netfront;

/// <summary>
/// The smallest backend that can talk to a netfront, written against SIMXEN directly (not the daemon):
/// publishes features and InitWait, reads the frontend's keys when it is Connected, maps the rings with
/// SimGrantMapper, binds the event channel with SimEventChannels, goes Connected; then takes one TX frame
/// and hands one RX frame back with SimGrantCopier. Single-threaded use from the test.
/// </summary>
public sealed class MinimalNetback : IAsyncDisposable, IEventChannelHandler
{
    private readonly SimXenPlatform _platform;
    private readonly IXenStore _store;
    private readonly SemaphoreSlim _events = new(0);
    private readonly nint _buffer;
    private IGrantMapping? _txMap, _rxMap;
    private uint _port;
    private uint _rxPort;
    private readonly Dictionary<string, string> _features = new(StringComparer.Ordinal) { ["feature-rx-copy"] = "1", ["feature-sg"] = "1" };

    public MinimalNetback(SimRoot root, IXenStore store, ushort guest, int handle)
    {
        _platform = new SimXenPlatform(root, 0, _ => Task.FromResult(store));
        _store = store;
        Guest = guest;
        BackendPath = string.Create(CultureInfo.InvariantCulture, $"/local/domain/0/backend/vif/{guest}/{handle}");
        FrontendPath = string.Create(CultureInfo.InvariantCulture, $"/local/domain/{guest}/device/vif/{handle}");
        _buffer = AllocateBuffer();
    }

    public ushort Guest { get; }
    public string BackendPath { get; }
    public string FrontendPath { get; }
    public BackRing<NetifTxRequest, NetifTxResponse>? Tx { get; private set; }
    public BackRing<NetifRxRequest, NetifRxResponse>? Rx { get; private set; }
    public int Events;

    /// <summary>Backend features published at InitWait (feature-rx-copy and feature-sg by default).</summary>
    public IDictionary<string, string> Features => _features;

    public uint TxPort => _port;
    public uint RxPort => _rxPort;
    public int TxEvents;
    public int RxEvents;

    public async Task InitWaitAsync()
    {
        foreach (var (key, value) in _features)
            await _store.WriteAsync(BackendPath + "/" + key, value);
        await _store.WriteAsync(BackendPath + "/state", "2");
    }

    /// <summary>Frontend Connected: keys, rings, event channel, then Connected.</summary>
    public async Task ConnectAsync(TimeSpan timeout)
    {
        await WatchedValue.WaitForAsync(_store, FrontendPath + "/state", "4", timeout);
        var txRef = await _store.ReadUIntAsync(FrontendPath + "/tx-ring-ref") ?? throw new InvalidOperationException("no tx-ring-ref");
        var rxRef = await _store.ReadUIntAsync(FrontendPath + "/rx-ring-ref") ?? throw new InvalidOperationException("no rx-ring-ref");
        var single = await _store.ReadUIntAsync(FrontendPath + "/event-channel");
        var port = single ?? await _store.ReadUIntAsync(FrontendPath + "/event-channel-tx") ?? throw new InvalidOperationException("no event-channel");
        var rxPort = single ?? await _store.ReadUIntAsync(FrontendPath + "/event-channel-rx") ?? throw new InvalidOperationException("no event-channel-rx");
        Assert.Equal("1", await _store.ReadAsync(FrontendPath + "/request-rx-copy"));
        _txMap = _platform.GrantMapper.Map(Guest, txRef, writable: true);
        _rxMap = _platform.GrantMapper.Map(Guest, rxRef, writable: true);
        Tx = new BackRing<NetifTxRequest, NetifTxResponse>(_txMap.Address);
        Rx = new BackRing<NetifRxRequest, NetifRxResponse>(_rxMap.Address);
        Tx.AttachAtResponseProducer();
        Rx.AttachAtResponseProducer();
        _port = _platform.EventChannels.BindInterdomain(Guest, port, this);
        _rxPort = rxPort == port ? _port : _platform.EventChannels.BindInterdomain(Guest, rxPort, this);
        await _store.WriteAsync(BackendPath + "/state", "4");
    }

    /// <summary>Takes one whole TX frame (first slot, following slots), copies it out and answers OKAY.</summary>
    public async Task<byte[]> ReceiveTxFrameAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var tx = Tx!;
        var requests = new List<NetifTxRequest>();
        while (true)
        {
            var prod = tx.ReadRequestProducer();
            while (tx.RequestConsumer != prod)
            {
                var req = tx.CopyRequest(tx.RequestConsumer++);
                requests.Add(req);
                if (((NetTxFlags)req.Flags & NetTxFlags.MoreData) == 0)
                    return Answer(requests);
            }
            if (!tx.FinalCheckForRequests())
                await _events.WaitAsync(cts.Token);
        }
    }

    /// <summary>Takes <paramref name="count"/> raw TX slots (extras included) without answering them.</summary>
    public async Task<List<NetifTxRequest>> TakeTxSlotsAsync(int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var tx = Tx!;
        var slots = new List<NetifTxRequest>();
        while (slots.Count < count)
        {
            var prod = tx.ReadRequestProducer();
            while (tx.RequestConsumer != prod && slots.Count < count)
                slots.Add(tx.CopyRequest(tx.RequestConsumer++));
            if (slots.Count < count && !tx.FinalCheckForRequests())
                await _events.WaitAsync(cts.Token);
        }
        return slots;
    }

    /// <summary>Answers TX slots in order with the given statuses; notifies if the frontend asked.</summary>
    public void RespondTx(params (ushort Id, short Status)[] responses)
    {
        var tx = Tx!;
        foreach (var (id, status) in responses)
            tx.WriteResponse(tx.ResponseProducer++, new NetifTxResponse { Id = id, Status = status });
        if (tx.PushResponsesAndCheckNotify())
            _platform.EventChannels.Notify(_port);
    }

    /// <summary>Takes <paramref name="count"/> posted RX requests.</summary>
    public async Task<List<NetifRxRequest>> TakeRxRequestsAsync(int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var rx = Rx!;
        while (rx.UnconsumedRequests(rx.ReadRequestProducer()) < count)
            await _events.WaitAsync(cts.Token);
        var requests = new List<NetifRxRequest>();
        for (var i = 0; i < count; i++)
            requests.Add(rx.CopyRequest(rx.RequestConsumer++));
        return requests;
    }

    /// <summary>Copies <paramref name="data"/> into the page behind an RX request (offset 0).</summary>
    public short CopyToRxBuffer(NetifRxRequest request, ReadOnlySpan<byte> data)
    {
        data.CopyTo(Buffer(0, data.Length));
        Span<GrantCopySegment> segment =
        [
            new GrantCopySegment
            {
                Source = GrantCopyPointer.Local(_buffer),
                Dest = GrantCopyPointer.Foreign(request.Gref, Guest, 0),
                Length = (ushort)data.Length,
                Flags = GrantCopySegment.DestGref,
            },
        ];
        _platform.CreateGrantCopier().Copy(segment);
        return segment[0].Status;
    }

    /// <summary>Pushes raw RX response slots (data or extras) and notifies if the frontend asked.</summary>
    public void RespondRx(params NetifRxResponse[] responses)
    {
        var rx = Rx!;
        foreach (var response in responses)
            rx.WriteResponse(rx.ResponseProducer++, response);
        if (rx.PushResponsesAndCheckNotify())
            _platform.EventChannels.Notify(_rxPort);
    }

    /// <summary>The TX ring's shared header, for playing a hostile backend.</summary>
    public unsafe ref SharedRingHeader TxHeader => ref *(SharedRingHeader*)_txMap!.Address;

    /// <summary>Copies <paramref name="frame"/> into as many posted RX buffers as it needs, as one chain.</summary>
    public async Task DeliverRxFrameAsync(byte[] frame, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var rx = Rx!;
        var need = Math.Max(1, (frame.Length + 4095) / 4096);
        while (rx.UnconsumedRequests(rx.ReadRequestProducer()) < need)
            await _events.WaitAsync(cts.Token);
        frame.CopyTo(Buffer(0, frame.Length));
        var segments = new GrantCopySegment[need];
        var ids = new ushort[need];
        for (var k = 0; k < need; k++)
        {
            var req = rx.CopyRequest(rx.RequestConsumer++);
            ids[k] = req.Id;
            var len = Math.Min(4096, frame.Length - k * 4096);
            segments[k] = new GrantCopySegment
            {
                Source = GrantCopyPointer.Local(_buffer + k * 4096),
                Dest = GrantCopyPointer.Foreign(req.Gref, Guest, 0),
                Length = (ushort)len,
                Flags = GrantCopySegment.DestGref,
            };
        }
        _platform.CreateGrantCopier().Copy(segments);
        for (var k = 0; k < need; k++)
        {
            Assert.Equal(GrantStatus.Okay, segments[k].Status);
            rx.WriteResponse(rx.ResponseProducer++, new NetifRxResponse
            {
                Id = ids[k],
                Offset = 0,
                Flags = (ushort)(k + 1 < need ? NetRxFlags.MoreData : NetRxFlags.None),
                Status = (short)segments[k].Length,
            });
        }
        if (rx.PushResponsesAndCheckNotify())
            _platform.EventChannels.Notify(_rxPort);
    }

    public Task<string?> ReadFrontendAsync(string key) => _store.ReadAsync(FrontendPath + "/" + key);

    public async Task SetStateAsync(int state) => await _store.WriteAsync(BackendPath + "/state", state.ToString(CultureInfo.InvariantCulture));

    /// <summary>Unmaps the rings and unbinds, as a backend does on disconnect.</summary>
    public void Disconnect()
    {
        if (_rxPort != 0 && _rxPort != _port)
            _platform.EventChannels.Unbind(_rxPort);
        if (_port != 0)
            _platform.EventChannels.Unbind(_port);
        _port = _rxPort = 0;
        _txMap?.Dispose();
        _rxMap?.Dispose();
        _txMap = _rxMap = null;
        Tx = null;
        Rx = null;
    }

    public void OnEvent(uint localPort)
    {
        Interlocked.Increment(ref Events);
        if (localPort == _port)
            Interlocked.Increment(ref TxEvents);
        if (localPort == _rxPort)
            Interlocked.Increment(ref RxEvents);
        _events.Release();
    }

    public async ValueTask DisposeAsync()
    {
        Disconnect();
        await _platform.DisposeAsync();
        FreeBuffer(_buffer);
    }

    private byte[] Answer(List<NetifTxRequest> requests)
    {
        var tx = Tx!;
        var first = requests[0];
        var total = first.Size;
        var segments = new GrantCopySegment[requests.Count];
        var laterSum = 0;
        for (var i = 1; i < requests.Count; i++)
            laterSum += requests[i].Size;
        var offset = 0;
        for (var i = 0; i < requests.Count; i++)
        {
            var len = i == 0 ? total - laterSum : requests[i].Size;
            segments[i] = new GrantCopySegment
            {
                Source = GrantCopyPointer.Foreign(requests[i].Gref, Guest, requests[i].Offset),
                Dest = GrantCopyPointer.Local(_buffer + offset),
                Length = (ushort)len,
                Flags = GrantCopySegment.SourceGref,
            };
            offset += len;
        }
        _platform.CreateGrantCopier().Copy(segments);
        foreach (var request in requests)
            tx.WriteResponse(tx.ResponseProducer++, new NetifTxResponse { Id = request.Id, Status = NetifResponseStatus.Okay });
        if (tx.PushResponsesAndCheckNotify())
            _platform.EventChannels.Notify(_port);
        foreach (var segment in segments)
            Assert.Equal(GrantStatus.Okay, segment.Status);
        return Buffer(0, total).ToArray();
    }

    private static unsafe nint AllocateBuffer() => (nint)NativeMemory.AlignedAlloc(65536, 4096);

    private static unsafe void FreeBuffer(nint buffer) => NativeMemory.AlignedFree((void*)buffer);

    private unsafe Span<byte> Buffer(int offset, int length) => new((void*)(_buffer + offset), length);
}
