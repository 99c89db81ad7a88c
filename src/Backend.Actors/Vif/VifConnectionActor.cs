using System.Globalization;
using Akka.Actor;
using Akka.Event;
using Backend.Actors.Bridge;
using Backend.Actors.HostNetwork;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.XenStore;

namespace Backend.Actors.Vif;

/// <summary>
/// One vif's xenbus state machine, as Linux netback's <c>frontend_changed</c> and SIMXEN's table: it
/// publishes features and goes InitWait, connects when the frontend is Connected (keys, ring maps,
/// event channels, then the ring actors), and disconnects on Closing/Closed. It owns the ring mappings
/// and the event-channel bindings; its children (TX ring, RX ring, bridge port) are restarted together
/// when one of them fails, and re-attach to the live rings without the guest noticing.
/// </summary>
public sealed class VifConnectionActor : ReceiveActor
{
    /// <summary>The features Linux netback publishes that this backend implements.</summary>
    public static readonly IReadOnlyList<KeyValuePair<string, string>> Features =
    [
        new("feature-sg", "1"),
        new("feature-gso-tcpv4", "1"),
        new("feature-gso-tcpv6", "1"),
        new("feature-ipv6-csum-offload", "1"),
        new("feature-rx-copy", "1"),
        new("feature-rx-flip", "0"),
        new("feature-split-event-channels", "1"),
    ];

    private readonly VifPaths _paths;
    private readonly BackendServices _services;
    private readonly VifStatus _status;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IAsyncDisposable> _watches = [];

    private BackendConfig? _config;
    private XenbusState? _lastActedFrontendState;
    private XenbusState _backendState = XenbusState.Unknown;
    private bool _hotplugConnected;
    private bool _settled;
    private Connection? _connection;
    // --switch tap: the vif's own device, from first sight until the vif goes (HostNetwork/VifTap).
    private VifTap? _tap;
    private bool _forgotten;
    private bool _connectWaitingForHotplug;
    private int _childGeneration;
    private CoalescedWatch? _frontendStateWatch;
    private CoalescedWatch? _hotplugStatusWatch;

    private sealed class Connection
    {
        public RingPage? TxRing;
        public RingPage? RxRing;
        public VifChannels? Channels;
        public readonly List<uint> BoundPorts = [];
        public BridgePort? Port;
        public LearningBridge? Bridge;
        public IActorRef? Tx;
        public IActorRef? Rx;
        public IActorRef? BridgePort;
        public TapFrameReader? TapReader;
        public bool Announced;
    }

    public VifConnectionActor(VifPaths paths, BackendServices services)
    {
        _paths = paths;
        _services = services;
        _status = services.Status.GetOrAdd(paths.Vif);

        ReceiveAsync<VifProtocol.Start>(_ => StartAsync());
        ReceiveAsync<VifProtocol.FrontendStateChanged>(_ => OnFrontendStateChangedAsync());
        ReceiveAsync<VifProtocol.HotplugStatusChanged>(_ => OnHotplugStatusChangedAsync());
        Receive<VifProtocol.DisableVif>(OnDisable);
        Receive<Xenbus.XenbusProtocol.Quiesce>(q => _connection?.Tx?.Tell(q));
        Receive<VifProtocol.KickRings>(_ => KickRings());
    }

    public static Props Props(VifPaths paths, BackendServices services) =>
        Akka.Actor.Props.Create(() => new VifConnectionActor(paths, services));

    private IXenStore Xs => _services.XenStore;

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A bug in one ring actor restarts this guest's whole data path (TX, RX, bridge port), which
        // re-attaches to the live rings; past ten restarts a minute the vif is disabled instead.
        new AllForOneStrategy(10, TimeSpan.FromMinutes(1), ex =>
        {
            Interlocked.Increment(ref _status.Restarts);
            _log.Error(ex, "{Vif}: data path failed, restarting it: {Reason}", _paths.Vif, ex.Message);
            return Directive.Restart;
        });

    protected override void PreStart() => Self.Tell(VifProtocol.Start.Instance);

    protected override void PostStop()
    {
        foreach (var w in _watches)
            _ = w.DisposeAsync().AsTask();
        _watches.Clear();
        // The children are stopped, or stopping when this runs for a restart; each ring actor holds its
        // ring page until its own PostStop (RingPage), so the connection's hold can go now.
        ReleaseConnection(childrenStopped: true);
        if (_tap is not null)
        {
            // A daemon that stops leaves the persistent device for its next run; a vif that went deletes it.
            // (Non-short-circuit '|': the supervisor's request is taken either way, so none lingers.)
            _services.Taps!.StopReading(_tap.Device);
            _tap.Close(delete: _forgotten | _services.Taps.TakeDeletion(_paths.Vif));
        }
    }

    private async Task StartAsync()
    {
        try
        {
            _config = await BackendConfig.ReadAsync(Xs, _paths);
        }
        catch (VifConfigException ex)
        {
            await FailAsync(ex.Message);
            Settle();
            return;
        }
        _status.Mac = _config.Mac.ToString();
        _status.Bridge = _config.Bridge;

        // Both asked for at once: one round trip.
        var backendStateRead = Xs.ReadAsync(_paths.Backend("state"));
        var hotplugRead = Xs.ReadAsync(_paths.Backend("hotplug-status"));
        await Task.WhenAll(backendStateRead, hotplugRead);
        _backendState = ParseState(backendStateRead.Result);
        _status.State = _backendState.ToString();

        // The device exists before the hotplug status says so (and before InitWait), as with the script.
        if (_services.Options.Switch == SwitchMode.Tap && !await OpenTapAsync())
            return;

        var hotplug = hotplugRead.Result;
        if (_services.Options.WriteHotplugStatus && hotplug is not null && hotplug != "connected")
        {
            // The toolstack may have removed the vif since we looked (see WriteWhileBackendExistsAsync).
            if (await WriteWhileBackendExistsAsync([new("hotplug-status", "connected")]))
                hotplug = "connected";
        }
        _hotplugConnected = hotplug is null or "connected";

        var frontendState = _frontendStateWatch = new CoalescedWatch(Self, VifProtocol.FrontendStateChanged.Instance);
        var hotplugStatus = _hotplugStatusWatch = new CoalescedWatch(Self, VifProtocol.HotplugStatusChanged.Instance);
        // Set together (one round trip); the order of their initial events does not matter.
        var frontendWatch = Xs.WatchAsync($"{_config.FrontendPath}/state", $"fe:{_paths.Vif}", _ => frontendState.OnEvent());
        var hotplugWatch = Xs.WatchAsync(_paths.Backend("hotplug-status"), $"hp:{_paths.Vif}", _ => hotplugStatus.OnEvent());
        try
        {
            await Task.WhenAll(frontendWatch, hotplugWatch);
        }
        finally
        {
            // Whichever was set is kept, so that PostStop removes it even when the other failed.
            if (frontendWatch.IsCompletedSuccessfully)
                _watches.Add(frontendWatch.Result);
            if (hotplugWatch.IsCompletedSuccessfully)
                _watches.Add(hotplugWatch.Result);
        }
        // The watches' initial events bring the frontend's current state in as a change.
    }

    private async Task OnFrontendStateChangedAsync()
    {
        _frontendStateWatch?.Take();
        if (_config is null)
            return;
        var state = ParseState(await Xs.ReadAsync($"{_config.FrontendPath}/state"));
        if (state == _lastActedFrontendState)
            return;
        _lastActedFrontendState = state;
        _status.FrontendState = state.ToString();
        _log.Debug("{Vif}: frontend {FrontendState}, backend {BackendState}", _paths.Vif, state, _backendState);

        switch (state)
        {
            case XenbusState.Initialising:
                Disconnect();
                await WriteStateAsync(XenbusState.InitWait, publishFeatures: true);
                break;
            case XenbusState.Connected:
                await ConnectAsync();
                break;
            case XenbusState.Closing:
                Disconnect();
                await WriteStateAsync(XenbusState.Closing);
                break;
            case XenbusState.Closed:
                Disconnect();
                await WriteStateAsync(XenbusState.Closed);
                var online = await Xs.ReadAsync(_paths.Backend("online"));
                if (online != "1")
                    Forget();
                break;
            case XenbusState.Unknown:
                Disconnect();
                await WriteStateAsync(XenbusState.Closed);
                Forget();
                break;
            default:
                // InitWait, Initialised, Reconfiguring: nothing to do until the frontend moves on.
                break;
        }
        Settle();
    }

    /// <summary>Tells the supervisor, once, that this vif has acted on its frontend's first state (see RingGate).</summary>
    private void Settle()
    {
        if (_settled)
            return;
        _settled = true;
        Context.Parent.Tell(new VifProtocol.Settled(_paths.Vif));
    }

    private async Task OnHotplugStatusChangedAsync()
    {
        _hotplugStatusWatch?.Take();
        var value = await Xs.ReadAsync(_paths.Backend("hotplug-status"));
        _hotplugConnected = value is null or "connected";
        if (_hotplugConnected && _connectWaitingForHotplug)
        {
            _connectWaitingForHotplug = false;
            await ConnectAsync();
        }
        else if (_hotplugConnected && _connection is { Announced: false })
        {
            await AnnounceConnectedAsync();
        }
    }

    private async Task ConnectAsync()
    {
        if (_connection is not null)
            return;
        if (_tap is not null && !_hotplugConnected)
        {
            // With a TAP per vif, the hotplug script brings the device up and onto its bridge: serving the
            // rings before that would consume the guest's first frames only to drop them at a down TAP.
            // So, as Linux netback, connect once hotplug-status reads "connected".
            _connectWaitingForHotplug = true;
            GuestLog(LogLevel.InfoLevel, "{Vif}: frontend connected; waiting for hotplug-status to read 'connected' before serving the rings", _paths.Vif);
            return;
        }
        try
        {
            // Keys may have been rewritten by the toolstack since we started (mtu, rate, bridge).
            _config = await BackendConfig.ReadAsync(Xs, _paths);
            var frontendMtuPath = $"{_config.FrontendPath}/mtu";
            // Asked for with the frontend's other keys: one round trip.
            var frontendMtuRead = Xs.ReadAsync(frontendMtuPath);
            var frontendRead = FrontendConfig.ReadAsync(Xs, _config.FrontendPath);
            // The frontend's own failure, if any, is the one reported (WhenAll throws the first task's).
            await Task.WhenAll(frontendRead, frontendMtuRead);
            var frontend = frontendRead.Result;
            var frontendMtuText = frontendMtuRead.Result;
            var mtu = _config.Mtu ?? (frontendMtuText is null ? 1500u : XenStoreValue.ParseUInt(frontendMtuPath, frontendMtuText, 65535));
            Attach(frontend, (int)mtu);
        }
        // A lost xenstore connection is not the frontend's fault: it is left to the supervisor, whose
        // restart of this tree reads the keys again once the client has reconnected.
        catch (Exception ex) when (ex is VifConfigException or GrantException or XenStoreErrorException or IOException or InvalidOperationException
            && ex is not XenStoreConnectionException)
        {
            ReleaseConnection(childrenStopped: false);
            await FailAsync(ex.Message);
            return;
        }

        // Process both rings once before announcing Connected, and again after (SIMXEN's table): a
        // frontend may have queued requests, and a re-attach must pick up what was pushed meanwhile.
        KickRings();
        if (_backendState == XenbusState.Connected || _hotplugConnected)
            await AnnounceConnectedAsync();
        else
            GuestLog(LogLevel.InfoLevel, "{Vif}: connected, waiting for hotplug-status to read 'connected'", _paths.Vif);
    }

    private void Attach(FrontendConfig frontend, int mtu)
    {
        var c = _connection = new Connection();
        var id = _paths.Vif;
        // A new connection starts enabled; cleared before the ring actors start, which read it.
        _status.Disabled = false;
        _status.Fault = null;
        var domid = id.DomId;

        c.TxRing = new RingPage(_services.Platform.GrantMapper.Map(domid, frontend.TxRingRef, writable: true));
        c.RxRing = new RingPage(_services.Platform.GrantMapper.Map(domid, frontend.RxRingRef, writable: true));
        c.Channels = new VifChannels(_services.Platform.EventChannels);

        var rxSettings = new RxRingSettings(domid, mtu, frontend);
        // Bounds the frames on their way to the RX actor, whoever sends them (issue 12, finding 6).
        var rxBacklog = _services.Options.NewBacklog(mtu, frontend.TakesGso);
        // The data path of the vif (both rings and its port) runs on its hypercall lane's thread.
        var lane = _services.Hypercalls.For(domid);
        c.Rx = StartRingActor(c.RxRing, page => lane.Place(RxRingActor.Props(id, _services, page, c.Channels, rxSettings)), "rx");
        if (_tap is not null)
        {
            // --switch tap: the vif's TAP port takes the bridge port's place; the host stack is the switch.
            _tap.SetOffload(frontend);
            c.TapReader = new TapFrameReader(_services.Buffers, c.Rx, _tap.Counters) { Mtu = mtu, Backlog = rxBacklog };
            c.BridgePort = Context.ActorOf(lane.Place(VifTapPortActor.Props(_tap, c.TapReader, _services.Taps!)), ChildName("tap-port"));
            c.Tx = StartRingActor(c.TxRing, page => lane.Place(TxRingActor.Props(id, _services, page, c.Channels, c.BridgePort, _config!.Rate)), "tx");
        }
        else
        {
            c.Bridge = _services.Bridges.Get(_config!.Bridge);
            c.Port = c.Bridge.AddPort(id.ToString(), c.Rx, _config.Mac);
            c.Port.Mtu = mtu;
            c.Port.Backlog = rxBacklog;
            _status.BridgePort = c.Port;
            c.BridgePort = Context.ActorOf(lane.Place(BridgePortActor.Props(c.Bridge, c.Port, _services.Buffers)), ChildName("bridge-port"));
            c.Tx = StartRingActor(c.TxRing, page => lane.Place(TxRingActor.Props(id, _services, page, c.Channels, c.BridgePort, _config.Rate)), "tx");
        }

        var events = _services.Platform.EventChannels;
        if (frontend.SplitEventChannels)
        {
            c.Channels.TxPort = events.BindInterdomainLateEoi(domid, frontend.TxEventChannel, new RingEventHandler(events, _status, c.Tx, c.Channels.TxEvents));
            c.BoundPorts.Add(c.Channels.TxPort);
            c.Channels.RxPort = events.BindInterdomainLateEoi(domid, frontend.RxEventChannel, new RingEventHandler(events, _status, c.Rx, c.Channels.RxEvents));
            c.BoundPorts.Add(c.Channels.RxPort);
        }
        else
        {
            c.Channels.TxPort = c.Channels.RxPort = events.BindInterdomainLateEoi(domid, frontend.TxEventChannel,
                new RingEventHandler(events, _status, c.Tx, c.Channels.TxEvents, c.Rx, c.Channels.RxEvents));
            c.BoundPorts.Add(c.Channels.TxPort);
        }

        _status.Mtu = mtu;
        _status.Features = Describe(frontend);
        GuestLog(LogLevel.InfoLevel, "{Vif}: rings mapped, event channels {Ports}, mtu {Mtu}, bridge '{Bridge}'",
            id, c.Channels.Split ? $"{c.Channels.TxPort}/{c.Channels.RxPort}" : $"{c.Channels.TxPort}", mtu, _config!.Bridge);
    }

    /// <summary>A ring actor holding <paramref name="page"/> (it lets go when it stops; here, if it never started).</summary>
    private IActorRef StartRingActor(RingPage page, Func<RingPage, Props> props, string name)
    {
        page.AddHolder();
        try
        {
            return Context.ActorOf(props(page), ChildName(name));
        }
        catch
        {
            page.Release();
            throw;
        }
    }

    /// <summary>
    /// The child's usual name, unless the last connection's child of that name is still stopping (a
    /// frontend that reconnects at once): Akka keeps a name until its child has terminated.
    /// </summary>
    private string ChildName(string name) =>
        Context.Child(name).IsNobody() ? name : $"{name}-{++_childGeneration}";

    private async Task AnnounceConnectedAsync()
    {
        if (_connection is null)
            return;
        _connection.Announced = true;
        // Carrier on before the state switch, as Linux's connect() does: a guest that sees Connected
        // may send to its peers at once (SIMXEN's hello broadcast), and they to it.
        if (_connection.Port is { } port)
            port.Connected = !_status.Disabled;
        if (_connection.TapReader is { } reader)
            reader.Carrier = !_status.Disabled;
        if (_backendState != XenbusState.Connected)
            await WriteStateAsync(XenbusState.Connected);
        KickRings();
    }

    private void KickRings()
    {
        _connection?.Tx?.Tell(RingProtocol.RingEvent.Instance);
        _connection?.Rx?.Tell(RingProtocol.RingEvent.Instance);
    }

    private void OnDisable(VifProtocol.DisableVif message)
    {
        if (_status.Disabled)
            return;
        _status.Disabled = true;
        _status.Fault = message.Reason;
        Interlocked.Increment(ref _status.Faults);
        Interlocked.Increment(ref _services.Status.DisabledTotal);
        if (_connection?.Port is { } port)
            port.Connected = false;
        if (_connection?.TapReader is { } reader)
            reader.Carrier = false;
        // Either ring's fatal error stops both (SIMXEN: no more requests consumed, no responses).
        _connection?.Tx?.Tell(RingProtocol.Stop.Instance);
        _connection?.Rx?.Tell(RingProtocol.Stop.Instance);
        // The TX ring is no longer read, but the guest can reconnect and misbehave again: within its budget.
        GuestLog(LogLevel.WarningLevel, "{Vif}: frontend misbehaved, vif disabled (carrier off): {Reason}", _paths.Vif, message.Reason);
    }

    private void Disconnect()
    {
        _connectWaitingForHotplug = false;
        if (_connection is null)
            return;
        GuestLog(LogLevel.InfoLevel, "{Vif}: disconnecting", _paths.Vif);
        ReleaseConnection(childrenStopped: false);
    }

    private void ReleaseConnection(bool childrenStopped)
    {
        var c = _connection;
        if (c is null)
            return;
        _connection = null;
        // The connection's hold on the ring pages; each ring actor lets go of its own when it has stopped.
        c.TxRing?.Release();
        c.RxRing?.Release();
        foreach (var port in c.BoundPorts)
        {
            try { _services.Platform.EventChannels.Unbind(port); }
            catch (Exception ex) when (ex is IOException or InvalidOperationException) { _log.Warning("{Vif}: unbinding port {Port}: {Reason}", _paths.Vif, port, ex.Message); }
        }
        if (c.Port is not null)
        {
            if (_status.BridgePort == c.Port)
                _status.BridgePort = null;
            c.Port.Connected = false;
            c.Bridge?.RemovePort(c.Port);
        }
        if (c.TapReader is not null)
            c.TapReader.Carrier = false;
        if (childrenStopped)
            return;
        foreach (var child in new[] { c.Tx, c.Rx, c.BridgePort })
            if (child is not null)
                Context.Stop(child);
    }

    private async Task FailAsync(string reason)
    {
        Interlocked.Increment(ref _status.Faults);
        _status.Fault = reason;
        GuestLog(LogLevel.ErrorLevel, "{Vif}: cannot connect: {Reason}", _paths.Vif, reason);
        try
        {
            // As Linux's xenbus_dev_fatal: the reason goes to the error node, the device to Closing.
            await Xs.WriteAsync($"{_paths.ErrorDir}/error", reason);
            await WriteStateAsync(XenbusState.Closing);
        }
        catch (Exception ex) when (ex is XenStoreErrorException or IOException)
        {
            GuestLog(LogLevel.WarningLevel, "{Vif}: could not record the failure in xenstore: {Reason}", _paths.Vif, ex.Message);
        }
    }

    /// <summary>As Linux's xenbus_switch_state, with the features first when the backend first offers them.</summary>
    private async Task WriteStateAsync(XenbusState state, bool publishFeatures = false)
    {
        var writes = new List<KeyValuePair<string, string>>(Features.Count + 1);
        if (publishFeatures)
            writes.AddRange(Features);
        writes.Add(new("state", ((int)state).ToString(CultureInfo.InvariantCulture)));
        if (!await WriteWhileBackendExistsAsync(writes))
        {
            _log.Debug("{Vif}: backend directory gone, state {State} not written", _paths.Vif, state);
            return;
        }
        _backendState = state;
        _status.State = state.ToString();
    }

    /// <summary>
    /// Writes backend keys in one transaction, and only while the backend's <c>state</c> node exists, so
    /// that a vif the toolstack is removing is never brought back to life by our write (xenstore creates
    /// missing parents, leaving a husk no toolstack removes). The writes go out together, in order
    /// (requests leave in call order). False when the backend was gone.
    /// </summary>
    private Task<bool> WriteWhileBackendExistsAsync(IReadOnlyList<KeyValuePair<string, string>> writes) =>
        Xs.RunTransactionAsync(async tx =>
        {
            if (await Xs.ReadAsync(_paths.Backend("state"), tx) is null)
                return false;
            var pending = new Task[writes.Count];
            for (var i = 0; i < writes.Count; i++)
                pending[i] = Xs.WriteAsync(_paths.Backend(writes[i].Key), writes[i].Value, tx);
            await Task.WhenAll(pending);
            return true;
        });

    private void Forget()
    {
        _forgotten = true;
        _log.Info("{Vif}: forgotten (offline and closed)", _paths.Vif);
        Context.Parent.Tell(new VifProtocol.VifForgotten(_paths.Vif));
    }

    /// <summary>
    /// --switch tap: creates (or re-opens, after a restart) the vif's persistent TAP before the backend
    /// writes InitWait, so that the hotplug script libxl runs then finds it. Under SIMXEN, where the daemon
    /// plays the script's part, it also brings the device up; attaching it to a bridge is the host's part.
    /// </summary>
    private async Task<bool> OpenTapAsync()
    {
        try
        {
            _tap ??= VifTap.Open(_paths.BackendDomId, _paths.Vif, await Xs.ReadAsync(_paths.Backend("vifname")));
            _status.TapCounters = _tap.Counters;
            _status.TapDevice = _tap.Device.Name;
            if (_services.Options.WriteHotplugStatus)
                _tap.Device.SetUp(true);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            await FailAsync($"cannot create the vif's TAP device: {ex.Message}");
            return false;
        }
    }

    /// <summary>
    /// A line the guest can make us write again and again (by reconnecting, or failing anew): written
    /// within the vif's <see cref="GuestLogLimit"/>, with the count of those suppressed before it.
    /// </summary>
    private void GuestLog(LogLevel level, string format, params object[] args)
    {
        if (!_status.GuestLog.TryTake(out var suppressed))
            return;
        if (suppressed > 0)
            _log.Log(level, "{Vif}: {Suppressed} lines about this vif suppressed (rate limit)", [_paths.Vif, suppressed]);
        _log.Log(level, format, args);
    }

    /// <summary>As Linux's xenbus_read_driver_state: anything unreadable counts as Unknown.</summary>
    internal static XenbusState ParseState(string? text) =>
        text is { Length: 1 } && text[0] is >= '0' and <= '8' ? (XenbusState)(text[0] - '0') : XenbusState.Unknown;

    private static string Describe(FrontendConfig f)
    {
        var parts = new List<string>();
        if (f.ScatterGather) parts.Add("sg");
        if (f.GsoTcpV4) parts.Add("gso-tcpv4");
        if (f.GsoTcpV6) parts.Add("gso-tcpv6");
        if (f.Ipv4ChecksumOffload) parts.Add("csum");
        if (f.Ipv6ChecksumOffload) parts.Add("ipv6-csum");
        if (f.RxNotify) parts.Add("rx-notify");
        if (f.SplitEventChannels) parts.Add("split-event-channels");
        return string.Join(',', parts);
    }
}
