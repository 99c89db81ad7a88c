using Akka.Actor;
using Akka.Event;
using Backend.Actors.HostNetwork;
using Backend.Actors.Status;
using Backend.Actors.Xenbus;
using Backend.Xen.Abi;
using Backend.Xen.EventChannels;
using Backend.Xen.Grants;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Vif;

/// <summary>
/// One vif's xenbus state machine, as Linux netback's <c>frontend_changed</c> and SIMXEN's table, in
/// behaviours: <see cref="Disconnected"/> (watching the frontend, InitWait published),
/// <see cref="AwaitingHotplug"/> (the frontend is Connected, the TAP not yet up),
/// <see cref="Attached"/> (rings served, Connected not yet written), <see cref="Connected"/>, and
/// <see cref="Failed"/> (the backend directory or the TAP could not be had: nothing to serve). The
/// keys and transactions are <see cref="VifBackend"/>'s, the rings, channels and ports
/// <see cref="VifConnection"/>'s. Its children (TX ring, RX ring, port) are restarted together when
/// one of them fails, and re-attach to the live rings without the guest noticing.
/// </summary>
public sealed class VifConnectionActor : ReceiveActor
{
    private readonly VifId _id;
    private readonly BackendServices _services;
    private readonly VifStatus _status;
    private readonly VifBackend _backend;
    private readonly VifConnection _vif;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IAsyncDisposable> _watches = [];
    // One message and one READ in flight per watched node, however often the guest writes it.
    private readonly CoalescedWatch _frontendState;
    private readonly CoalescedWatch _hotplugStatus;

    private bool _hotplugConnected;
    private bool _settled;
    private bool _forgotten;

    public VifConnectionActor(VifPaths paths, BackendServices services)
    {
        _id = paths.Vif;
        _services = services;
        _status = services.Status.GetOrAdd(paths.Vif);
        _backend = new VifBackend(services.XenStore, paths);
        _vif = new VifConnection(Context, services, paths, _status, _log);
        _frontendState = new CoalescedWatch(Self, VifProtocol.FrontendStateChanged.Instance);
        _hotplugStatus = new CoalescedWatch(Self, VifProtocol.HotplugStatusChanged.Instance);
        ReceiveAsync<VifProtocol.Start>(_ => StartAsync());
        NotServing();
    }

    public static Props Props(VifPaths paths, BackendServices services) =>
        Akka.Actor.Props.Create(() => new VifConnectionActor(paths, services));

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A bug in one ring actor restarts this guest's whole data path (TX, RX, port), which re-attaches
        // to the live rings; past ten restarts a minute the vif is disabled instead.
        new AllForOneStrategy(10, TimeSpan.FromMinutes(1), ex =>
        {
            _status.BeginRestart();
            Interlocked.Increment(ref _status.Restarts);
            _log.Error(ex, "{Vif}: data path failed, restarting it: {Reason}", _id, ex.Message);
            return Directive.Restart;
        });

    protected override void PreStart() => Self.Tell(VifProtocol.Start.Instance);

    protected override void PostStop()
    {
        foreach (var w in _watches)
            _ = w.DisposeAsync().AsTask();
        // A vif that went deletes its TAP; a daemon that stops leaves it for its next run. (Non-short-circuit
        // '|': the supervisor's request is taken either way, so none lingers.)
        _vif.Free(deleteTap: _vif.Tap is not null && (_forgotten | _services.Taps!.TakeDeletion(_id)));
    }

    private void Failed() => NotServing();

    private void Disconnected() => Watching(onHotplugConnected: null, serving: false);

    private void AwaitingHotplug() => Watching(onHotplugConnected: ConnectAsync, serving: false);

    private void Attached() => Watching(onHotplugConnected: AnnounceConnectedAsync, serving: true);

    private void Connected() => Watching(onHotplugConnected: null, serving: true);

    /// <summary>Once the watches are set: the frontend's state, the hotplug script's, a ring's fatal error, and the supervisor's kicks.</summary>
    private void Watching(Func<Task>? onHotplugConnected, bool serving)
    {
        ReceiveAsync<VifProtocol.FrontendStateChanged>(_ => OnFrontendStateChangedAsync());
        ReceiveAsync<VifProtocol.HotplugStatusChanged>(async _ =>
        {
            _hotplugStatus.Take();
            _hotplugConnected = VifBackend.IsHotplugConnected(await _backend.ReadHotplugStatusAsync());
            if (_hotplugConnected && onHotplugConnected is not null)
                await onHotplugConnected();
        });
        Receive<VifProtocol.DisableVif>(OnDisable);
        if (!serving)
        {
            NotServing();
            return;
        }
        Receive<VifProtocol.KickRings>(_ => _vif.Kick());
        Receive<XenbusProtocol.Quiesce>(_ => _vif.Quiesce());
    }

    /// <summary>No rings to kick or quiesce (the supervisor tells every vif).</summary>
    private void NotServing()
    {
        Receive<VifProtocol.KickRings>(_ => { });
        Receive<XenbusProtocol.Quiesce>(_ => { });
    }

    private async Task StartAsync()
    {
        try
        {
            var config = await _backend.ReadConfigAsync();
            _status.Mac = config.Mac.ToString();
            _status.Bridge = config.Bridge;
        }
        catch (VifConfigException ex)
        {
            await FailToStartAsync(ex.Message);
            return;
        }

        var hotplug = await _backend.ReadStateAndHotplugStatusAsync();
        _status.State = _backend.State.ToString();
        if (_services.Options.Switch == SwitchMode.Tap)
        {
            // The device exists before the hotplug status says so (and before InitWait), as with the script.
            var vifname = await _backend.ReadVifNameAsync();
            try
            {
                _vif.OpenTap(vifname, bringUp: _services.Options.WriteHotplugStatus);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                await FailToStartAsync($"cannot create the vif's TAP device: {ex.Message}");
                return;
            }
        }
        _hotplugConnected = await _backend.CompleteHotplugAsync(hotplug, playScript: _services.Options.WriteHotplugStatus);
        Become(Disconnected);
        _watches.AddRange(await _backend.WatchAsync(_frontendState.OnEvent, _hotplugStatus.OnEvent));
    }

    private async Task OnFrontendStateChangedAsync()
    {
        _frontendState.Take();
        if (await _backend.ReadFrontendStateChangeAsync() is not { } state)
            return;
        _status.FrontendState = state.ToString();
        _log.Debug("{Vif}: frontend {FrontendState}, backend {BackendState}", _id, state, _backend.State);
        switch (state)
        {
            case XenbusState.Initialising:
                Disconnect();
                await SwitchStateAsync(XenbusState.InitWait, publishFeatures: true);
                break;
            case XenbusState.Connected:
                await ConnectAsync();
                break;
            case XenbusState.Closing or XenbusState.Closed or XenbusState.Unknown:
                Disconnect();
                await SwitchStateAsync(state == XenbusState.Closing ? XenbusState.Closing : XenbusState.Closed);
                // An Unknown (or vanished) frontend is gone for good; a Closed one when the toolstack took the vif offline.
                if (state == XenbusState.Unknown || (state == XenbusState.Closed && !await _backend.ReadOnlineAsync()))
                    Forget();
                break;
            default:
                // InitWait, Initialised, Reconfiguring: nothing to do until the frontend moves on.
                break;
        }
        Settle();
    }

    private async Task ConnectAsync()
    {
        if (_vif.IsConnected)
            return;
        if (_vif.Tap is not null && !_hotplugConnected)
        {
            // With a TAP per vif, the hotplug script brings the device up and onto its bridge: serving the
            // rings before that would consume the guest's first frames only to drop them at a down TAP.
            // So, as Linux netback, connect once hotplug-status reads "connected".
            Become(AwaitingHotplug);
            GuestLog(LogLevel.InfoLevel, "{Vif}: frontend connected; waiting for hotplug-status to read 'connected' before serving the rings", _id);
            return;
        }
        VifConnectConfig config;
        try
        {
            config = await _backend.ReadConnectConfigAsync();
            _vif.Connect(config);
        }
        // The frontend's fault (a bad key, grant or port) fails this connect; a lost xenstore connection is
        // not: it is left to the supervisor, whose restart of this tree reads the keys again once the client
        // has reconnected.
        catch (Exception ex) when (ex is VifConfigException or GrantException or EventChannelBindException or XenStoreErrorException
            or IOException or InvalidOperationException && ex is not XenStoreConnectionException)
        {
            Become(Disconnected);
            await FailAsync(ex.Message);
            return;
        }
        GuestLog(LogLevel.InfoLevel, "{Vif}: rings mapped, event channels {Ports}, mtu {Mtu}, bridge '{Bridge}'", _id, _vif.EventChannels, config.Mtu, config.Backend.Bridge);
        // Process both rings once before announcing Connected, and again after (SIMXEN's table): a
        // frontend may have queued requests, and a re-attach must pick up what was pushed meanwhile.
        _vif.Kick();
        if (_backend.State == XenbusState.Connected || _hotplugConnected)
        {
            await AnnounceConnectedAsync();
            return;
        }
        Become(Attached);
        GuestLog(LogLevel.InfoLevel, "{Vif}: connected, waiting for hotplug-status to read 'connected'", _id);
    }

    private async Task AnnounceConnectedAsync()
    {
        Become(Connected);
        // Carrier on before the state switch, as Linux's connect() does: a guest that sees Connected may
        // send to its peers at once (SIMXEN's hello broadcast), and they to it.
        _vif.SetCarrier(!_status.Disabled);
        if (_backend.State != XenbusState.Connected)
            await SwitchStateAsync(XenbusState.Connected);
        _vif.Kick();
    }

    private void Disconnect()
    {
        Become(Disconnected);
        if (!_vif.IsConnected)
            return;
        GuestLog(LogLevel.InfoLevel, "{Vif}: disconnecting", _id);
        _vif.Disconnect();
    }

    private void OnDisable(VifProtocol.DisableVif message)
    {
        // The TX ring is no longer read, but the guest can reconnect and misbehave again: within its budget.
        if (_vif.Disable(message.Reason))
            GuestLog(LogLevel.WarningLevel, "{Vif}: frontend misbehaved, vif disabled (carrier off): {Reason}", _id, message.Reason);
    }

    /// <summary>Nothing to serve: the error node says why, the supervisor may open the rings of the others.</summary>
    private async Task FailToStartAsync(string reason)
    {
        Become(Failed);
        await FailAsync(reason);
        Settle();
    }

    /// <summary>As Linux's <c>xenbus_dev_fatal</c>, and the status says why.</summary>
    private async Task FailAsync(string reason)
    {
        Interlocked.Increment(ref _status.Faults);
        _status.Fault = reason;
        GuestLog(LogLevel.ErrorLevel, "{Vif}: cannot connect: {Reason}", _id, reason);
        try
        {
            StateWritten(await _backend.DevFatalAsync(reason), XenbusState.Closing);
        }
        catch (Exception ex) when (ex is XenStoreErrorException or IOException)
        {
            GuestLog(LogLevel.WarningLevel, "{Vif}: could not record the failure in xenstore: {Reason}", _id, ex.Message);
        }
    }

    private async Task SwitchStateAsync(XenbusState state, bool publishFeatures = false) =>
        StateWritten(await _backend.SwitchStateAsync(state, publishFeatures), state);

    private void StateWritten(bool written, XenbusState state)
    {
        if (written)
            _status.State = state.ToString();
        else
            _log.Debug("{Vif}: backend directory gone, state {State} not written", _id, state);
    }

    /// <summary>Tells the supervisor, once, that this vif has acted on its frontend's first state (see RingGate).</summary>
    private void Settle()
    {
        if (_settled)
            return;
        _settled = true;
        Context.Parent.Tell(new VifProtocol.Settled(_id));
    }

    private void Forget()
    {
        _forgotten = true;
        _log.Info("{Vif}: forgotten (offline and closed)", _id);
        Context.Parent.Tell(new VifProtocol.VifForgotten(_id));
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
            _log.Log(level, "{Vif}: {Suppressed} lines about this vif suppressed (rate limit)", [_id, suppressed]);
        _log.Log(level, format, args);
    }
}
