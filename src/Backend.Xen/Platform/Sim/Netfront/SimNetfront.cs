using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Backend.Xen.Abi;
using Backend.Xen.EventChannels;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// A simulated guest's network frontend that behaves like Linux's xen-netfront under SIMXEN: it creates
/// its domain's memory and grant table, follows the xenbus state machine (connects when the backend is
/// InitWait: rings granted, event channel(s) allocated, keys written in one transaction, then
/// Connected), keeps its RX ring filled, sends and receives frames, and closes or reconnects on request.
/// Xenbus work runs on one loop fed by the watch on the backend's <c>state</c>; ring work runs on the
/// domain's event channel loop and on the sender's thread.
/// </summary>
public sealed class SimNetfront : IAsyncDisposable, IEventChannelHandler
{
    private readonly SimNetfrontOptions _options;
    private readonly IXenStore _store;
    private readonly SimDomain _domain;
    private readonly SimGuestEventChannels _eventChannels;
    private readonly Channel<bool> _wakeups = Channel.CreateUnbounded<bool>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _xenbus = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly bool[] _ringFrameInUse = new bool[SimNetfrontLayout.RingFrames];
    private readonly Lock _stateGate = new();
    private Task _loop = Task.CompletedTask;
    private IAsyncDisposable? _watch;
    // Queue 0's rings (the only ones of a one-queue connection), and every queue's, queue 0 first.
    private Connection? _connection;
    private Connection[] _queues = [];
    private XenbusState _state = XenbusState.Initialising;
    private XenbusState _backendState = XenbusState.Unknown;
    private TaskCompletionSource _stateChanged = NewSignal();
    private bool _awaitingInitWait = true;
    private string? _failure;
    private long _sentBefore, _receivedBefore, _txErrorsBefore, _rxErrorsBefore, _ringFullBefore, _stuckBefore;
    private int _disposed;

    private SimNetfront(SimNetfrontOptions options, IXenStore store, SimDomain domain, string backendPath, ushort backendDomId, byte[] mac)
    {
        _options = options;
        _store = store;
        _domain = domain;
        BackendPath = backendPath;
        BackendDomId = backendDomId;
        Mac = mac;
        FrontendPath = string.Create(CultureInfo.InvariantCulture, $"/local/domain/{options.DomId}/device/vif/{options.Handle}");
        _eventChannels = new SimGuestEventChannels(domain);
    }

    public ushort DomId => _options.DomId;

    public int Handle => _options.Handle;

    public ushort BackendDomId { get; }

    /// <summary>The MAC the toolstack gave this vif (the frontend's <c>mac</c>).</summary>
    public ReadOnlyMemory<byte> Mac { get; }

    public string FrontendPath { get; }

    public string BackendPath { get; }

    /// <summary>This domain's SIMXEN files.</summary>
    public SimDomain Domain => _domain;

    /// <summary>The frame consumer; frames received while it is null are counted and dropped.</summary>
    public ISimFrameConsumer? Consumer { get; set; }

    /// <summary>Our xenbus state as last written.</summary>
    public XenbusState State
    {
        get
        {
            lock (_stateGate)
                return _state;
        }
    }

    /// <summary>The backend's state as last read.</summary>
    public XenbusState BackendState
    {
        get
        {
            lock (_stateGate)
                return _backendState;
        }
    }

    /// <summary>Both sides Connected: frames flow.</summary>
    public bool IsConnected
    {
        get
        {
            lock (_stateGate)
                return _state == XenbusState.Connected && _backendState == XenbusState.Connected && _connection is not null;
        }
    }

    /// <summary>Why connecting failed (the netfront then stays where it was), or null.</summary>
    public string? Failure => Volatile.Read(ref _failure);

    /// <summary>Whether the connection uses one event channel per ring.</summary>
    public bool SplitEventChannels => _connection?.SplitEventChannels ?? false;

    /// <summary>What the backend and we both advertised, for the current connection.</summary>
    public bool SgNegotiated => _connection?.Sg ?? false;

    /// <summary>The queues of the current connection (0 when not connected).</summary>
    public int QueueCount => Volatile.Read(ref _queues).Length;

    public SimNetfrontCounters Counters
    {
        get
        {
            long sent = 0, received = 0, txErrors = 0, rxErrors = 0, ringFull = 0, stuck = 0;
            foreach (var c in Volatile.Read(ref _queues))
            {
                sent += c.Tx.Sent;
                received += c.Rx.Received;
                txErrors += c.Tx.Errors;
                rxErrors += c.Rx.Errors;
                ringFull += c.Tx.RingFull;
                stuck += c.Tx.GrantsStillInUse + c.Rx.GrantsStillInUse;
            }
            return new SimNetfrontCounters(
                Interlocked.Read(ref _sentBefore) + sent,
                Interlocked.Read(ref _receivedBefore) + received,
                Interlocked.Read(ref _txErrorsBefore) + txErrors,
                Interlocked.Read(ref _rxErrorsBefore) + rxErrors,
                Interlocked.Read(ref _ringFullBefore) + ringFull,
                Interlocked.Read(ref _stuckBefore) + stuck);
        }
    }

    /// <summary>Frames sent on and received from queue <paramref name="queue"/> of the current connection.</summary>
    public (long Sent, long Received) QueueCounters(int queue)
    {
        var c = Volatile.Read(ref _queues)[queue];
        return (c.Tx.Sent, c.Rx.Received);
    }

    /// <summary>The guest's event channel counters (notifications sent, suppressed, datagrams received).</summary>
    public SimEventChannelCounters EventChannelCounters => _eventChannels.Counters;

    /// <summary>Both rings' indices and the event-channel counters, for a test's failure message.</summary>
    public string DescribeRings()
    {
        var queues = Volatile.Read(ref _queues);
        return queues.Length == 0
            ? $"guest {DomId}: not connected"
            : $"guest {DomId}: {string.Join("; ", queues.Select(c => (queues.Length > 1 ? $"queue {c.Queue} " : "") + $"TX [{c.Tx.RingIndices}] RX [{c.Rx.RingIndices}]"))} events {EventChannelCounters}";
    }

    /// <summary>
    /// What made a ring of the current connection unusable, as netfront would see it (a response with no
    /// request outstanding, more responses than requests, a buffer still granted after its response), or null.
    /// </summary>
    public string? RingBroken => Volatile.Read(ref _queues).Select(c => c.Tx.Broken ?? c.Rx.Broken).FirstOrDefault(b => b is not null);

    /// <summary>Whether the connection has a control ring (asked for with <see cref="SimNetfrontOptions.CtrlRing"/>, offered by the backend).</summary>
    public bool HasCtrlRing => _connection?.Ctrl is not null;

    /// <summary>
    /// Sends one control ring request with any values (a test may be a hostile frontend) and waits for its
    /// response. The grant reference of the ctrl data page, which <see cref="WriteCtrlData"/> fills, is
    /// <see cref="CtrlDataRef"/>.
    /// </summary>
    public Task<NetifCtrlResponse> CtrlRequestAsync(ushort type, uint data0 = 0, uint data1 = 0, uint data2 = 0, CancellationToken cancellationToken = default) =>
        Ctrl.RequestAsync(type, data0, data1, data2, cancellationToken);

    /// <summary>The grant reference of the page ctrl requests point at (granted read-only to the backend).</summary>
    public uint CtrlDataRef => Ctrl.DataRef;

    /// <summary>Writes the start of the ctrl data page.</summary>
    public void WriteCtrlData(ReadOnlySpan<byte> data) => Ctrl.WriteData(data);

    /// <summary>SET_HASH_KEY with <paramref name="key"/> in the ctrl data page.</summary>
    public Task<NetifCtrlResponse> SetHashKeyAsync(ReadOnlySpan<byte> key, CancellationToken cancellationToken = default)
    {
        WriteCtrlData(key);
        return CtrlRequestAsync(NetifCtrlType.SetHashKey, CtrlDataRef, (uint)key.Length, 0, cancellationToken);
    }

    /// <summary>SET_HASH_MAPPING of <paramref name="entries"/> (little-endian u32s in the ctrl data page) at <paramref name="offset"/>.</summary>
    public Task<NetifCtrlResponse> SetHashMappingAsync(ReadOnlySpan<uint> entries, uint offset, CancellationToken cancellationToken = default)
    {
        WriteCtrlData(MemoryMarshal.AsBytes(entries));
        return CtrlRequestAsync(NetifCtrlType.SetHashMapping, CtrlDataRef, (uint)entries.Length, offset, cancellationToken);
    }

    /// <summary>A hostile frontend's move: sets the ctrl ring's req_prod to <paramref name="reqProd"/>, whatever it pushed, and notifies.</summary>
    public void PushCtrlRequestProducer(uint reqProd) => Ctrl.PushRequestProducer(reqProd);

    private SimNetfrontCtrl Ctrl =>
        _connection?.Ctrl ?? throw new InvalidOperationException($"vif {DomId}.{Handle} has no control ring (state {State})");

    /// <summary>TX requests pushed and not yet answered.</summary>
    public int TxOutstanding => Volatile.Read(ref _queues).Sum(c => c.Tx.Outstanding);

    /// <summary>
    /// Becomes domain <see cref="SimNetfrontOptions.DomId"/> (fresh memory and grant table, created before
    /// any xenstore key is written), reads the frontend dir the toolstack wrote, and starts following the
    /// backend's state. Returns at once; <see cref="WaitForConnectedAsync"/> waits for the handshake.
    /// </summary>
    public static async Task<SimNetfront> StartAsync(SimNetfrontOptions options, IXenStore store, ISimFrameConsumer? consumer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        options.Validate();
        var fe = string.Create(CultureInfo.InvariantCulture, $"/local/domain/{options.DomId}/device/vif/{options.Handle}");
        var backendPath = await store.ReadAsync(fe + "/backend", null, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{fe}/backend is missing: the toolstack has not created vif {options.DomId}.{options.Handle}");
        if (!backendPath.StartsWith("/local/domain/", StringComparison.Ordinal) || backendPath.Length > 200)
            throw new InvalidOperationException($"{fe}/backend \"{backendPath}\" is not a backend path");
        var backendId = await store.ReadIntAsync(fe + "/backend-id", null, cancellationToken).ConfigureAwait(false);
        if (backendId is not { } b || b < 0 || b >= Abi.DomId.FirstReserved || b == options.DomId)
            throw new InvalidOperationException($"{fe}/backend-id is \"{backendId}\", not another domain's id");
        var macText = await store.ReadAsync(fe + "/mac", null, cancellationToken).ConfigureAwait(false);
        if (!MacAddress.TryParse(macText, out var macAddress))
            throw new InvalidOperationException($"{fe}/mac \"{macText}\" is not xx:xx:xx:xx:xx:xx");
        var mac = new byte[6];
        macAddress.Write(mac);

        var domain = SimDomain.CreateGuest(options.Root, options.DomId, SimNetfrontLayout.MemoryPages(options.Queues));
        var front = new SimNetfront(options, store, domain, backendPath, (ushort)b, mac) { Consumer = consumer };
        try
        {
            front._loop = front.XenbusLoopAsync(front._stop.Token);
            front._watch = await store.WatchAsync(backendPath + "/state", "netfront:" + fe, front.OnBackendWatch, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await front.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return front;
    }

    /// <summary>Waits until both sides are Connected.</summary>
    public async Task WaitForConnectedAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task changed;
            lock (_stateGate)
            {
                if (_state == XenbusState.Connected && _backendState == XenbusState.Connected && _connection is not null)
                    return;
                changed = _stateChanged.Task;
            }
            if (_failure is { } failure)
                throw new InvalidOperationException($"vif {DomId}.{Handle} failed to connect: {failure}");
            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the backend's state satisfies <paramref name="done"/>.</summary>
    public async Task WaitForBackendStateAsync(Func<XenbusState, bool> done, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(done);
        while (true)
        {
            Task changed;
            lock (_stateGate)
            {
                if (done(_backendState))
                    return;
                changed = _stateChanged.Task;
            }
            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Puts one frame on the TX ring; false when the ring is full now (responses will free room).
    /// Throws when the vif has no rings (not connected) or the frame cannot be sent with what was negotiated.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> frame, in SimTxOptions options = default) => TrySend(0, frame, options);

    /// <summary>As <see cref="TrySend(ReadOnlySpan{byte}, in SimTxOptions)"/>, on queue <paramref name="queue"/>'s TX ring.</summary>
    public bool TrySend(int queue, ReadOnlySpan<byte> frame, in SimTxOptions options = default)
    {
        var c = QueueOrThrow(queue);
        CheckOffloads(c, options);
        return c.Tx.TrySend(frame, options, wantSpace: false, out _);
    }

    /// <summary>Puts one frame on the TX ring, waiting for room when it is full.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, SimTxOptions options = default, CancellationToken cancellationToken = default) =>
        SendAsync(0, frame, options, cancellationToken);

    /// <summary>Puts one frame on queue <paramref name="queue"/>'s TX ring, waiting for room when it is full.</summary>
    public async ValueTask SendAsync(int queue, ReadOnlyMemory<byte> frame, SimTxOptions options = default, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var c = QueueOrThrow(queue);
            CheckOffloads(c, options);
            if (c.Tx.TrySend(frame.Span, options, wantSpace: true, out var space))
                return;
            await space!.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends a multicast control request (<see cref="NetifExtraType.MulticastAdd"/> or
    /// <see cref="NetifExtraType.MulticastDel"/> naming <paramref name="address"/>) on the TX ring, waiting
    /// for room when it is full, and returns the backend's answer (NETIF_RSP_OKAY or NETIF_RSP_ERROR).
    /// </summary>
    public async Task<short> SendMulticastControlAsync(byte type, MacAddress address, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var c = _connection ?? throw new InvalidOperationException($"vif {DomId}.{Handle} has no rings (state {State})");
            if (c.Tx.TrySendMulticastControl(type, address) is { } answer)
                return await answer.WaitAsync(cancellationToken).ConfigureAwait(false);
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes <c>request-multicast-control</c> while connected, as a frontend of a backend with
    /// <c>feature-dynamic-multicast-control</c> may at any time (netif.h).
    /// </summary>
    public Task SetMulticastControlAsync(bool on, CancellationToken cancellationToken = default) =>
        _store.WriteAsync(FrontendPath + "/request-multicast-control", on ? "1" : "0", null, cancellationToken);

    /// <summary>Waits until every frame sent so far has been answered by the backend (nothing left on the TX ring).</summary>
    public Task WaitForTxIdleAsync(CancellationToken cancellationToken = default) =>
        Task.WhenAll(Volatile.Read(ref _queues).Select(c => c.Tx.WhenIdle())).WaitAsync(cancellationToken);

    private Connection QueueOrThrow(int queue)
    {
        var queues = Volatile.Read(ref _queues);
        if (queues.Length == 0)
            throw new InvalidOperationException($"vif {DomId}.{Handle} has no rings (state {State})");
        if ((uint)queue >= (uint)queues.Length)
            throw new ArgumentOutOfRangeException(nameof(queue), queue, $"vif {DomId}.{Handle} has {queues.Length} queues");
        return queues[queue];
    }

    /// <summary>
    /// Closes as Linux's netfront does on removal: Closing, wait for the backend to close, Closed, wait
    /// for the backend to be Closed (or gone), then frees the rings.
    /// </summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        bool alreadyClosed;
        await _xenbus.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            alreadyClosed = State is XenbusState.Closed;
            if (!alreadyClosed)
                await SwitchStateAsync(XenbusState.Closing, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _xenbus.Release();
        }
        if (!alreadyClosed)
        {
            await WaitForBackendStateAsync(s => s is XenbusState.Closing or XenbusState.Closed or XenbusState.Unknown, cancellationToken).ConfigureAwait(false);
            await _xenbus.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await SwitchStateAsync(XenbusState.Closed, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _xenbus.Release();
            }
        }
        await WaitForBackendStateAsync(s => s is XenbusState.Closed or XenbusState.Unknown, cancellationToken).ConfigureAwait(false);
        await _xenbus.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Teardown();
        }
        finally
        {
            _xenbus.Release();
        }
    }

    /// <summary>
    /// Closes if need be, then starts again at Initialising: the backend goes InitWait and the netfront
    /// connects with fresh rings. Waits until both sides are Connected.
    /// </summary>
    public async Task ReconnectAsync(CancellationToken cancellationToken = default)
    {
        if (State is not XenbusState.Closed || _connection is not null)
            await CloseAsync(cancellationToken).ConfigureAwait(false);
        await _xenbus.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Volatile.Write(ref _failure, null);
            lock (_stateGate)
                _awaitingInitWait = true;
            await SwitchStateAsync(XenbusState.Initialising, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _xenbus.Release();
        }
        _wakeups.Writer.TryWrite(true);
        await WaitForConnectedAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// As Linux's netfront when XDP is set on it (<c>xennet_xdp_set</c>): writes <c>xdp-headroom</c> (when
    /// <paramref name="xdpHeadroom"/> is given; written before the state, so that the backend's read at
    /// Reconfiguring sees it), Reconfiguring, then waits for the backend to be Reconfigured. The rings stay
    /// as they are, and so does the state: Linux's netfront does not go Connected again, so a second call
    /// repeats a state the backend has acted on already and changes nothing there (as Linux's
    /// <c>xenbus_switch_state</c>, which writes no state that is already the device's).
    /// </summary>
    public async Task ReconfigureAsync(ushort? xdpHeadroom = null, CancellationToken cancellationToken = default)
    {
        await _xenbus.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (xdpHeadroom is { } headroom)
                await _store.WriteAsync(FrontendPath + "/xdp-headroom", headroom.ToString(CultureInfo.InvariantCulture), null, cancellationToken).ConfigureAwait(false);
            await SwitchStateAsync(XenbusState.Reconfiguring, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _xenbus.Release();
        }
        await WaitForBackendStateAsync(s => s == XenbusState.Reconfigured, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Processes both rings now (a wake-up the backend may have skipped is never needed, but cheap).</summary>
    public void Kick()
    {
        foreach (var c in Volatile.Read(ref _queues))
        {
            c.Tx.Collect();
            c.Rx.Poll();
            c.Ctrl?.Poll();
        }
    }

    void IEventChannelHandler.OnEvent(uint localPort)
    {
        foreach (var c in Volatile.Read(ref _queues))
        {
            if (localPort == c.TxPort)
                c.Tx.Collect();
            if (localPort == c.RxPort)
                c.Rx.Poll();
            if (c.HasCtrl && localPort == c.CtrlPort)
                c.Ctrl?.Poll();
        }
    }

    /// <summary>
    /// Stops following xenstore and releases the rings and the domain's files (left on disk, as a guest
    /// process that exits leaves them; the toolstack removes <c>ROOT/dom&lt;D&gt;/</c>). Does not write
    /// xenstore: call <see cref="CloseAsync"/> first for an orderly close.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (_watch is not null)
        {
            try
            {
                await _watch.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is XenStoreConnectionException or XenStoreErrorException or ObjectDisposedException)
            {
                // The xenstore connection is gone already: nothing more will come from it.
            }
        }
        _wakeups.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        ReleaseConnection();
        _eventChannels.Dispose();
        _domain.Dispose();
        _stop.Dispose();
        _xenbus.Dispose();
    }

    private void OnBackendWatch(XenStoreWatchEvent e) => _wakeups.Writer.TryWrite(true);

    private async Task XenbusLoopAsync(CancellationToken cancellationToken)
    {
        var reader = _wakeups.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out _))
            {
            }
            await _xenbus.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await OnBackendStateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Volatile.Write(ref _failure, e.Message);
                Signal();
            }
            finally
            {
                _xenbus.Release();
            }
        }
    }

    /// <summary>netfront's <c>netback_changed</c>, under the xenbus lock.</summary>
    private async Task OnBackendStateAsync(CancellationToken cancellationToken)
    {
        var text = await _store.ReadAsync(BackendPath + "/state", null, cancellationToken).ConfigureAwait(false);
        // A missing or malformed state counts as Unknown, as SIMXEN says for a missing one.
        var backend = XenbusStateText.Parse(text);
        XenbusState ours;
        bool awaitingInitWait;
        lock (_stateGate)
        {
            _backendState = backend;
            ours = _state;
            awaitingInitWait = _awaitingInitWait;
        }
        Signal();
        switch (backend)
        {
            case XenbusState.InitWait:
                if (ours != XenbusState.Initialising)
                    break;
                await ConnectAsync(cancellationToken).ConfigureAwait(false);
                break;
            case XenbusState.Connected:
                // Re-check both rings once the backend is there: it may have pushed before we looked.
                Kick();
                foreach (var c in Volatile.Read(ref _queues))
                    c.Rx.Refill();
                Signal();
                break;
            case XenbusState.Closing:
            case XenbusState.Closed:
            case XenbusState.Unknown:
                // A stale Closed from the previous connection must not close a netfront that has just
                // asked for a new one: until the backend answers Initialising with InitWait, it is ignored.
                if (awaitingInitWait && ours == XenbusState.Initialising)
                    break;
                if (ours is XenbusState.Closing)
                    break; // CloseAsync is in charge.
                if (ours is not XenbusState.Closed)
                {
                    if (backend == XenbusState.Unknown && await _store.ReadAsync(FrontendPath + "/state", null, cancellationToken).ConfigureAwait(false) is null)
                    {
                        // The vif was removed: nothing to write to, just let go of the rings.
                        lock (_stateGate)
                            _state = XenbusState.Closed;
                        Teardown();
                        break;
                    }
                    // xenbus_frontend_closed.
                    await SwitchStateAsync(XenbusState.Closing, cancellationToken).ConfigureAwait(false);
                    await SwitchStateAsync(XenbusState.Closed, cancellationToken).ConfigureAwait(false);
                }
                if (backend is XenbusState.Closed or XenbusState.Unknown)
                    Teardown();
                break;
        }
    }

    /// <summary>
    /// talk_to_netback + xennet_connect: rings, event channel(s), keys in one transaction, then Connected.
    /// On failure nothing is left half set up and the reason goes to <see cref="Failure"/>.
    /// </summary>
    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        Teardown();
        var backendSg = await ReadFeatureAsync("feature-sg", cancellationToken).ConfigureAwait(false);
        var backendSplit = await ReadFeatureAsync("feature-split-event-channels", cancellationToken).ConfigureAwait(false);
        var rxCopy = await ReadFeatureAsync("feature-rx-copy", cancellationToken).ConfigureAwait(false);
        // As netfront's talk_to_netback: its XDP state goes to a backend that offers the headroom.
        var xdpHeadroom = _options.XdpHeadroom is not null && await ReadFeatureAsync("feature-xdp-headroom", cancellationToken).ConfigureAwait(false)
            ? _options.XdpHeadroom : null;
        // Multicast control only from a backend that filters (netif.h: set before Connected).
        var multicastControl = _options.RequestMulticastControl && await ReadFeatureAsync("feature-multicast-control", cancellationToken).ConfigureAwait(false);
        if (!rxCopy)
            throw new InvalidOperationException($"{BackendPath} does not offer feature-rx-copy, the only receive mode netfront has");
        var sg = _options.FeatureSg && backendSg;
        var split = _options.SplitEventChannels && backendSplit;
        // As a frontend with RSS: a control ring when the backend offers one (the vif's, kept with queue 0).
        var ctrl = _options.CtrlRing && await ReadFeatureAsync("feature-ctrl-ring", cancellationToken).ConfigureAwait(false);
        // As Linux's netfront: min(its own wish, the backend's multi-queue-max-queues), one when none is published.
        var backendMax = await _store.ReadAsync(BackendPath + "/multi-queue-max-queues", null, cancellationToken).ConfigureAwait(false);
        var queueCount = backendMax is not null && XenStoreValue.TryParseUInt(backendMax, out var max) && max > 0
            ? (int)Math.Min((uint)_options.Queues, max) : 1;

        var queues = new Connection[queueCount];
        try
        {
            for (var q = 0; q < queueCount; q++)
                queues[q] = CreateConnection(sg, split, q, ctrl && q == 0);
            await _store.RunTransactionAsync(async t =>
            {
                if (queueCount > 1)
                    await WriteAsync("multi-queue-num-queues", (uint)queueCount, t).ConfigureAwait(false);
                foreach (var connection in queues)
                {
                    // As Linux's write_queue_xenstore_keys: the frontend's own directory for one queue, queue-N/ for several.
                    var dir = queueCount > 1 ? $"queue-{connection.Queue}/" : "";
                    await WriteAsync(dir + "tx-ring-ref", connection.TxRingRef, t).ConfigureAwait(false);
                    await WriteAsync(dir + "rx-ring-ref", connection.RxRingRef, t).ConfigureAwait(false);
                    if (split)
                    {
                        await WriteAsync(dir + "event-channel-tx", connection.TxPort, t).ConfigureAwait(false);
                        await WriteAsync(dir + "event-channel-rx", connection.RxPort, t).ConfigureAwait(false);
                        if (_options.AlsoWriteSingleEventChannel)
                            await WriteAsync(dir + "event-channel", connection.TxPort, t).ConfigureAwait(false);
                    }
                    else
                    {
                        await WriteAsync(dir + "event-channel", connection.TxPort, t).ConfigureAwait(false);
                    }
                }
                await WriteAsync("request-rx-copy", 1, t).ConfigureAwait(false);
                await WriteAsync("feature-rx-notify", 1, t).ConfigureAwait(false);
                await WriteAsync("feature-sg", _options.FeatureSg ? 1u : 0u, t).ConfigureAwait(false);
                if (_options.FeatureGsoTcpV4)
                    await WriteAsync("feature-gso-tcpv4", 1, t).ConfigureAwait(false);
                if (_options.FeatureGsoTcpV6)
                    await WriteAsync("feature-gso-tcpv6", 1, t).ConfigureAwait(false);
                if (_options.NoCsumOffload)
                    await WriteAsync("feature-no-csum-offload", 1, t).ConfigureAwait(false);
                if (xdpHeadroom is { } headroom)
                    await WriteAsync("xdp-headroom", headroom, t).ConfigureAwait(false);
                if (multicastControl)
                    await WriteAsync("request-multicast-control", 1, t).ConfigureAwait(false);
                if (ctrl)
                {
                    await WriteAsync(FrontendCtrlRing.RingRefKey, queues[0].CtrlRingRef, t).ConfigureAwait(false);
                    await WriteAsync(FrontendCtrlRing.EventChannelKey, queues[0].CtrlPort, t).ConfigureAwait(false);
                }
            }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            foreach (var connection in queues)
                connection?.Release(_eventChannels, _domain.Granter!, _ringFrameInUse);
            throw;
        }
        var gsoV4 = _options.FeatureGsoTcpV4 && await ReadFeatureAsync("feature-gso-tcpv4", cancellationToken).ConfigureAwait(false);
        var gsoV6 = _options.FeatureGsoTcpV6 && await ReadFeatureAsync("feature-gso-tcpv6", cancellationToken).ConfigureAwait(false);
        foreach (var connection in queues)
            (connection.GsoTcpV4, connection.GsoTcpV6) = (gsoV4, gsoV6);
        _connection = queues[0];
        Volatile.Write(ref _queues, queues);
        foreach (var connection in queues)
            connection.Rx.Refill();
        lock (_stateGate)
            _awaitingInitWait = false;
        await SwitchStateAsync(XenbusState.Connected, cancellationToken).ConfigureAwait(false);

        Task WriteAsync(string key, uint value, XenStoreTransaction t) =>
            _store.WriteAsync(FrontendPath + "/" + key, value.ToString(CultureInfo.InvariantCulture), t, cancellationToken);
    }

    private Connection CreateConnection(bool sg, bool split, int queue, bool ctrl)
    {
        var granter = _domain.Granter!;
        var txFrame = TakeRingFrame();
        var rxFrame = TakeRingFrame();
        var connection = new Connection
        {
            Queue = queue, Sg = sg, SplitEventChannels = split, TxFrame = txFrame, RxFrame = rxFrame,
            HasCtrl = ctrl, CtrlFrame = ctrl ? TakeRingFrame() : 0, CtrlDataFrame = ctrl ? TakeRingFrame() : 0,
        };
        try
        {
            _domain.Page(txFrame).Clear();
            _domain.Page(rxFrame).Clear();
            connection.Tx = new SimNetfrontTx(PageAddress(txFrame), _domain, BackendDomId, sg, connection.NotifyTx, SimNetfrontLayout.TxFrames(queue));
            connection.Rx = new SimNetfrontRx(PageAddress(rxFrame), _domain, BackendDomId, connection.NotifyRx, () => Consumer, SimNetfrontLayout.RxFrames(queue));
            connection.TxRingRef = granter.AllocateReference();
            granter.Grant(connection.TxRingRef, txFrame, BackendDomId, readOnly: false);
            connection.RxRingRef = granter.AllocateReference();
            granter.Grant(connection.RxRingRef, rxFrame, BackendDomId, readOnly: false);
            connection.Channels = _eventChannels;
            connection.TxPort = _eventChannels.AllocateUnbound(BackendDomId, this);
            connection.RxPort = split ? _eventChannels.AllocateUnbound(BackendDomId, this) : connection.TxPort;
            if (ctrl)
            {
                _domain.Page(connection.CtrlFrame).Clear();
                connection.CtrlDataRef = granter.AllocateReference();
                granter.Grant(connection.CtrlDataRef, connection.CtrlDataFrame, BackendDomId, readOnly: true);
                connection.Ctrl = new SimNetfrontCtrl(PageAddress(connection.CtrlFrame), _domain, connection.CtrlDataFrame, connection.CtrlDataRef, connection.NotifyCtrl);
                connection.CtrlRingRef = granter.AllocateReference();
                granter.Grant(connection.CtrlRingRef, connection.CtrlFrame, BackendDomId, readOnly: false);
                connection.CtrlPort = _eventChannels.AllocateUnbound(BackendDomId, this);
            }
            return connection;
        }
        catch
        {
            connection.Release(_eventChannels, granter, _ringFrameInUse);
            throw;
        }
    }

    private uint TakeRingFrame()
    {
        for (var i = 0; i < _ringFrameInUse.Length; i++)
        {
            if (!_ringFrameInUse[i])
            {
                _ringFrameInUse[i] = true;
                return SimNetfrontLayout.FirstRingFrame + (uint)i;
            }
        }
        throw new InvalidOperationException($"every ring frame is still granted to a backend that has not let go ({SimNetfrontLayout.RingFrames} frames)");
    }

    private unsafe nint PageAddress(uint gfn) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(_domain.Page(gfn)));

    private async Task<bool> ReadFeatureAsync(string key, CancellationToken cancellationToken)
    {
        // Hostile input: anything but a decimal number counts as "not offered".
        var text = await _store.ReadAsync(BackendPath + "/" + key, null, cancellationToken).ConfigureAwait(false);
        return text is not null && XenStoreValue.TryParseUInt(text, out var value) && value != 0;
    }

    private async Task SwitchStateAsync(XenbusState state, CancellationToken cancellationToken)
    {
        await _store.WriteAsync(FrontendPath + "/state", XenbusStateText.Format(state), null, cancellationToken).ConfigureAwait(false);
        lock (_stateGate)
            _state = state;
        Signal();
    }

    /// <summary>Frees the rings: only once the backend has let go (Closed, gone) or never had them.</summary>
    private void Teardown()
    {
        ReleaseConnection();
        Signal();
    }

    private void ReleaseConnection()
    {
        Interlocked.Exchange(ref _connection, null);
        foreach (var c in Interlocked.Exchange(ref _queues, []))
            ReleaseQueue(c);
    }

    private void ReleaseQueue(Connection c)
    {
        Interlocked.Add(ref _sentBefore, c.Tx.Sent);
        Interlocked.Add(ref _receivedBefore, c.Rx.Received);
        Interlocked.Add(ref _txErrorsBefore, c.Tx.Errors);
        Interlocked.Add(ref _rxErrorsBefore, c.Rx.Errors);
        Interlocked.Add(ref _ringFullBefore, c.Tx.RingFull);
        c.Release(_eventChannels, _domain.Granter!, _ringFrameInUse);
        Interlocked.Add(ref _stuckBefore, c.Tx.GrantsStillInUse + c.Rx.GrantsStillInUse);
    }

    private void CheckOffloads(Connection c, in SimTxOptions options)
    {
        switch (options.GsoType)
        {
            case NetifGsoType.None:
                break;
            case NetifGsoType.TcpV4 when !c.GsoTcpV4:
                throw new InvalidOperationException("GSO TCPv4 was not negotiated (feature-gso-tcpv4 on both sides)");
            case NetifGsoType.TcpV6 when !c.GsoTcpV6:
                throw new InvalidOperationException("GSO TCPv6 was not negotiated (feature-gso-tcpv6 on both sides)");
        }
    }

    private void Signal()
    {
        TaskCompletionSource old;
        lock (_stateGate)
        {
            old = _stateChanged;
            _stateChanged = NewSignal();
        }
        old.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The rings, grants and ports of one queue of a connection (one pass from Initialising to Closed).</summary>
    private sealed class Connection
    {
        public int Queue { get; init; }
        public SimNetfrontTx Tx { get; set; } = null!;
        public SimNetfrontRx Rx { get; set; } = null!;
        public SimGuestEventChannels? Channels { get; set; }
        public uint TxFrame { get; init; }
        public uint RxFrame { get; init; }
        public uint TxRingRef { get; set; }
        public uint RxRingRef { get; set; }
        public uint TxPort { get; set; }
        public uint RxPort { get; set; }
        public SimNetfrontCtrl? Ctrl { get; set; }
        public bool HasCtrl { get; init; }
        public uint CtrlFrame { get; init; }
        public uint CtrlDataFrame { get; init; }
        public uint CtrlRingRef { get; set; }
        public uint CtrlDataRef { get; set; }
        public uint CtrlPort { get; set; }
        public bool Sg { get; init; }
        public bool SplitEventChannels { get; init; }
        public bool GsoTcpV4 { get; set; }
        public bool GsoTcpV6 { get; set; }

        public void NotifyTx() => Channels?.Notify(TxPort);

        public void NotifyRx() => Channels?.Notify(RxPort);

        public void NotifyCtrl() => Channels?.Notify(CtrlPort);

        public void Release(SimGuestEventChannels channels, SimGranter granter, bool[] ringFrameInUse)
        {
            if (TxPort != 0)
                channels.Close(TxPort);
            if (RxPort != 0 && RxPort != TxPort)
                channels.Close(RxPort);
            TxPort = RxPort = 0;
            Tx?.Close();
            Rx?.Close();
            ReleaseRing(TxRingRef, TxFrame);
            ReleaseRing(RxRingRef, RxFrame);
            TxRingRef = RxRingRef = 0;
            if (HasCtrl)
            {
                if (CtrlPort != 0)
                    channels.Close(CtrlPort);
                CtrlPort = 0;
                Ctrl?.Close();
                ReleaseRing(CtrlRingRef, CtrlFrame);
                ReleaseRing(CtrlDataRef, CtrlDataFrame);
                CtrlRingRef = CtrlDataRef = 0;
            }

            void ReleaseRing(uint gref, uint frame)
            {
                if (gref == 0)
                {
                    ringFrameInUse[frame - SimNetfrontLayout.FirstRingFrame] = false;
                    return;
                }
                // A ring page the backend still maps is never reused: its frame and reference stay taken.
                if (granter.EndAccess(gref))
                {
                    granter.FreeReference(gref);
                    ringFrameInUse[frame - SimNetfrontLayout.FirstRingFrame] = false;
                }
            }
        }
    }
}
