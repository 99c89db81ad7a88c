using Akka.Actor;
using Akka.Event;
using Backend.Actors.Status;
using Backend.Xen.Abi;
using Backend.Actors.Xenbus;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Vif;

/// <summary>
/// One vif's xenbus state machine, as Linux netback's <c>frontend_changed</c> and SIMXEN's table, in
/// behaviours: <see cref="Disconnected"/> (watching the frontend, InitWait published),
/// <see cref="AwaitingHotplug"/> (the frontend is Connected, the TAP not yet up),
/// <see cref="Attached"/> (rings served, Connected not yet written), <see cref="Connected"/>, and
/// <see cref="Failed"/> (the backend directory or the TAP could not be had: nothing to serve). The
/// keys, transactions and the status they fill in are <see cref="VifXenbus"/>'s (xenbus.c), the rings,
/// channels and ports <see cref="VifConnection"/>'s (interface.c), the log lines <see cref="VifLog"/>'s.
/// Its children are a queue actor per queue (<see cref="VifQueueActor"/>, with the queue's TX and RX ring
/// actors, restarted together when one of them fails, re-attaching to the live rings without the guest
/// noticing) and, under <c>--switch tap</c>, the TAP port actor.
/// </summary>
public sealed class VifConnectionActor : ReceiveActor
{
    /// <summary>
    /// How long a re-attach waits for the old ring actors to stop: each ends the message it is in (a pass
    /// over its ring at most); longer means a lane is stuck, and the vif's tree is restarted instead.
    /// </summary>
    private static readonly TimeSpan ReattachStopTimeout = TimeSpan.FromSeconds(5);

    private readonly VifId _id;
    private readonly BackendServices _services;
    private readonly VifStatus _status;
    private readonly VifXenbus _xenbus;
    private readonly VifConnection _vif;
    private readonly VifLog _log;
    // One message and one READ in flight per watched node, however often the guest writes it.
    private readonly CoalescedWatch _frontendState;
    private readonly CoalescedWatch _hotplugStatus;
    private readonly CoalescedWatch _rate;
    private readonly CoalescedWatch _multicastControl;

    private bool _settled;
    private bool _forgotten;

    public VifConnectionActor(VifPaths paths, BackendServices services)
    {
        _id = paths.Vif;
        _services = services;
        _status = services.Status.GetOrAdd(paths.Vif);
        var log = Context.GetLogger();
        _log = new VifLog(log, _status);
        _xenbus = new VifXenbus(new VifBackend(services.XenStore, paths, services.Options.MaxQueues), _status, _log, services.Options);
        _vif = new VifConnection(Context, services, paths, _status, log);
        _frontendState = new CoalescedWatch(Self, VifProtocol.FrontendStateChanged.Instance);
        _hotplugStatus = new CoalescedWatch(Self, VifProtocol.HotplugStatusChanged.Instance);
        _rate = new CoalescedWatch(Self, VifProtocol.RateChanged.Instance);
        _multicastControl = new CoalescedWatch(Self, VifProtocol.MulticastControlChanged.Instance);
        ReceiveAsync<VifProtocol.Start>(_ => StartAsync());
        NotServing();
    }

    public static Props Props(VifPaths paths, BackendServices services) =>
        Akka.Actor.Props.Create(() => new VifConnectionActor(paths, services));

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A bug in a ring actor is its queue actor's to handle (VifQueueActor: that queue's TX and RX
        // restart and re-attach to the live rings, the other queues run on). Here only the TAP port actor
        // fails (a queue actor has nothing of its own that could): it restarts alone, past ten restarts a
        // minute it stops.
        new OneForOneStrategy(10, TimeSpan.FromMinutes(1), ex =>
        {
            _status.BeginRestart();
            Interlocked.Increment(ref _status.Restarts);
            _log.DataPathFailed(ex);
            return Directive.Restart;
        });

    protected override void PreStart() => Self.Tell(VifProtocol.Start.Instance);

    protected override void PostStop()
    {
        _xenbus.Unwatch();
        // A vif that went deletes its TAP; a daemon that stops leaves it for its next run. (Non-short-circuit
        // '|': the supervisor's request is taken either way, so none lingers.)
        _vif.Free(deleteTap: _vif.Tap is not null && (_forgotten | _services.Taps!.TakeDeletion(_id)));
    }

    private void Failed() => NotServing();

    private void Disconnected() => Watching(onHotplugConnected: null, serving: false);

    private void AwaitingHotplug() => Watching(onHotplugConnected: ConnectAsync, serving: false);

    private void Attached() => Watching(onHotplugConnected: AnnounceConnectedAsync, serving: true, carrier: false);

    private void Connected() => Watching(onHotplugConnected: null, serving: true, carrier: true);

    /// <summary>
    /// Once the watches are set: the frontend's state, the hotplug script's, the toolstack's rate, a ring's
    /// fatal error, and the supervisor's kicks. <paramref name="carrier"/>: whether the carrier is on (Connected announced).
    /// </summary>
    private void Watching(Func<Task>? onHotplugConnected, bool serving, bool carrier = false)
    {
        ReceiveAsync<VifProtocol.FrontendStateChanged>(_ => OnFrontendStateChangedAsync());
        ReceiveAsync<VifProtocol.RateChanged>(_ => OnRateChangedAsync(carrier));
        ReceiveAsync<VifProtocol.MulticastControlChanged>(_ => OnMulticastControlChangedAsync());
        ReceiveAsync<VifProtocol.HotplugStatusChanged>(async _ =>
        {
            _hotplugStatus.Take();
            if (await _xenbus.ReadHotplugStatusAsync() && onHotplugConnected is not null)
                await onHotplugConnected();
        });
        Receive<VifProtocol.DisableVif>(OnDisable);
        Receive<VifProtocol.RxStall>(OnRxStall);
        if (!serving)
        {
            NotServing();
            return;
        }
        Receive<VifProtocol.KickRings>(_ => _vif.Kick());
    }

    /// <summary>No rings to kick (the supervisor tells every vif).</summary>
    private void NotServing() => Receive<VifProtocol.KickRings>(_ => { });

    private async Task StartAsync()
    {
        if (await _xenbus.ProbeAsync(vifname => _vif.OpenTap(vifname, bringUp: _services.Options.WriteHotplugStatus)) is { } failure)
        {
            // Nothing to serve: the error node says why, the supervisor may open the rings of the others.
            Become(Failed);
            await _xenbus.FailAsync(failure);
            Settle();
            return;
        }
        Become(Disconnected);
        await _xenbus.WatchAsync(_frontendState.OnEvent, _hotplugStatus.OnEvent, _rate.OnEvent, _multicastControl.OnEvent);
    }

    private async Task OnFrontendStateChangedAsync()
    {
        _frontendState.Take();
        if (await _xenbus.ReadFrontendStateChangeAsync() is not { } state)
            return;
        switch (state)
        {
            case XenbusState.Initialising:
                Disconnect();
                await _xenbus.SwitchStateAsync(XenbusState.InitWait, publishFeatures: true);
                break;
            case XenbusState.Connected:
                await ConnectAsync();
                break;
            case XenbusState.Closing or XenbusState.Closed or XenbusState.Unknown:
                Disconnect();
                await _xenbus.SwitchStateAsync(state == XenbusState.Closing ? XenbusState.Closing : XenbusState.Closed);
                // An Unknown (or vanished) frontend is gone for good; a Closed one when the toolstack took the vif offline.
                if (state == XenbusState.Unknown || (state == XenbusState.Closed && !await _xenbus.ReadOnlineAsync()))
                    Forget();
                break;
            case XenbusState.Reconfiguring:
                await ReconfigureAsync();
                break;
            case XenbusState.Reconfigured:
                // As Linux's frontend_changed, whose default case this is: only a backend is Reconfigured.
                await _xenbus.FailAsync($"saw state {(int)state} at frontend");
                break;
            default:
                // InitWait, Initialised: nothing to do until the frontend moves on.
                break;
        }
        Settle();
    }

    private async Task ConnectAsync()
    {
        if (_vif.IsConnected)
            return;
        if (_vif.Tap is not null && !_xenbus.HotplugConnected)
        {
            // With a TAP per vif, the hotplug script brings the device up and onto its bridge: serving the
            // rings before that would consume the guest's first frames only to drop them at a down TAP.
            // So, as Linux netback, connect once hotplug-status reads "connected".
            Become(AwaitingHotplug);
            _log.WaitingForHotplugToServe();
            return;
        }
        // Connected already: a daemon (or this vif's tree) that starts again under a connected frontend.
        var resumed = _xenbus.State == XenbusState.Connected;
        if (await _xenbus.ConnectAsync(c => _vif.Connect(c, resumed)) is not { } config)
        {
            Become(Disconnected);
            return;
        }
        _log.RingsMapped(_vif.EventChannels, config.Mtu, config.Backend.Bridge);
        // Process both rings once before announcing Connected, and again after (SIMXEN's table): a
        // frontend may have queued requests, and a re-attach must pick up what was pushed meanwhile.
        _vif.Kick();
        if (_xenbus.State == XenbusState.Connected || _xenbus.HotplugConnected)
        {
            await AnnounceConnectedAsync();
            return;
        }
        Become(Attached);
        _log.WaitingForHotplugToAnnounce();
    }

    /// <summary>
    /// Linux netback's <c>frontend_changed</c> on Reconfiguring: <c>read_xenbus_frontend_xdp</c>, then
    /// Reconfigured (Linux's netfront asks for it to change its XDP headroom, and stays Reconfiguring). A
    /// new headroom reaches the connected vif's RX ring as a new rate does (<see cref="VifConnection.ReattachAsync"/>,
    /// decision 78): the rings stay, frames queued for the guest are dropped; the same headroom changes
    /// nothing. A daemon that starts again and finds the frontend Reconfiguring over a backend that was
    /// Connected or Reconfigured attaches the rings first, as it does for Connected over Connected, and
    /// reads the headroom with the other keys.
    /// </summary>
    private async Task ReconfigureAsync()
    {
        if (!_vif.IsConnected && _xenbus.State is XenbusState.Connected or XenbusState.Reconfigured
            && (_vif.Tap is null || _xenbus.HotplugConnected))
        {
            if (await _xenbus.ConnectAsync(c => _vif.Connect(c, resumed: true)) is null)
            {
                Become(Disconnected);
                return;
            }
            Become(Connected);
            _vif.SetCarrier(!_status.Disabled);
            _vif.Kick();
        }
        else if (_vif.IsConnected && !_status.Disabled && _vif.Config is { } current)
        {
            var headroom = await _xenbus.ReadXdpHeadroomAsync();
            if (headroom != current.Frontend.XdpHeadroom)
            {
                var config = current with { Frontend = current.Frontend with { XdpHeadroom = headroom } };
                if (!await _xenbus.ReattachAsync(config, c => _vif.ReattachAsync(c, ReattachStopTimeout)))
                {
                    Become(Disconnected);
                    return;
                }
                // Once done, so that the line's "attached again" is true when it is read.
                _log.XdpHeadroomChanged(headroom);
                _vif.SetCarrier(!_status.Disabled);
                _vif.Kick();
            }
        }
        await _xenbus.SwitchStateAsync(XenbusState.Reconfigured);
    }

    /// <summary>
    /// Linux's <c>xen_net_rate_changed</c>: the new rate applies to the connected vif without a reconnect
    /// (<see cref="VifConnection.ReattachAsync"/>). A vif not connected reads it at its next connect; a disabled
    /// one serves nothing, and its next connection reads it too.
    /// </summary>
    private async Task OnRateChangedAsync(bool carrier)
    {
        _rate.Take();
        if (!_vif.IsConnected)
            return;
        var (rate, malformed) = await _xenbus.ReadRateAsync();
        if (_vif.Config is not { } current || current.Backend.Rate == rate || _status.Disabled)
            return;
        var config = current with { Backend = current.Backend with { Rate = rate, MalformedRate = malformed } };
        if (!await _xenbus.ReattachAsync(config, c => _vif.ReattachAsync(c, ReattachStopTimeout)))
        {
            Become(Disconnected);
            return;
        }
        // Once done, so that the line's "attached again" is true when it is read (a test that waited for it
        // read the vif's status in the middle of the re-attach: CtrlRingTests, 1 run in 30).
        _log.RateChanged(rate is null ? "unlimited" : $"{rate.Bytes} bytes per {rate.Microseconds} us");
        _vif.SetCarrier(carrier && !_status.Disabled);
        _vif.Kick();
    }

    /// <summary>
    /// Linux's <c>xen_mcast_ctrl_changed</c> (<c>feature-dynamic-multicast-control</c>): the frontend's
    /// <c>request-multicast-control</c> sampled again and applied to the connected vif's filter at once; a
    /// vif not connected samples it at its next connect.
    /// </summary>
    private async Task OnMulticastControlChangedAsync()
    {
        _multicastControl.Take();
        if (!_vif.IsConnected)
            return;
        var on = await _xenbus.ReadMulticastControlAsync();
        if (_vif.IsConnected)
            _status.Multicast.Control = on;
    }

    private async Task AnnounceConnectedAsync()
    {
        Become(Connected);
        // Carrier on before the state switch, as Linux's connect() does: a guest that sees Connected may
        // send to its peers at once (SIMXEN's hello broadcast), and they to it.
        _vif.SetCarrier(!_status.Disabled);
        if (_xenbus.State != XenbusState.Connected)
            await _xenbus.SwitchStateAsync(XenbusState.Connected);
        _vif.Kick();
    }

    private void Disconnect()
    {
        Become(Disconnected);
        if (!_vif.IsConnected)
            return;
        _log.Disconnecting();
        _vif.Disconnect();
    }

    private void OnDisable(VifProtocol.DisableVif message)
    {
        // The TX ring is no longer read, but the guest can reconnect and misbehave again: within its budget.
        if (_vif.Disable(message.Reason))
            _log.Disabled(message.Reason);
    }

    private void OnRxStall(VifProtocol.RxStall message)
    {
        // One line per change, within the guest's budget: a guest that stalls and recovers in a loop is rate-limited.
        if (!_vif.OnRxStall(Sender, message.Stalled))
            return;
        if (message.Stalled)
            _log.RxStalled(_services.Options.RxStallTimeout);
        else
            _log.RxReady();
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
        _log.Forgotten();
        Context.Parent.Tell(new VifProtocol.VifForgotten(_id));
    }
}
