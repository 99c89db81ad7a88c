using Akka.Actor;
using Akka.Event;
using Backend.Actors.Bridge;
using Backend.Actors.Ctrl;
using Backend.Actors.HostNetwork;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Xen.Ctrl;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Vif;

/// <summary>
/// One vif's interface to its guest, as Linux netback's <c>interface.c</c> (<c>struct xenvif</c>): the
/// vif's TAP device under <c>--switch tap</c>, from first sight until the vif goes, and, between
/// <see cref="Connect"/> and <see cref="Disconnect"/> (<c>xenvif_connect_data</c> /
/// <c>xenvif_disconnect_data</c>), its data path: both ring pages mapped, the event channels bound with
/// a late EOI, the TX and RX ring actors, the vif's bridge port (its TX actor forwards on it) or its TAP
/// port actor. No xenstore here: what to connect with comes from <see cref="VifBackend"/>, when from the
/// connection actor, whose children the ring and port actors are and on whose thread alone this is used.
/// </summary>
internal sealed class VifConnection(IUntypedActorContext context, BackendServices services, VifPaths paths, VifStatus status, ILoggingAdapter log)
{
    private Data? _data;
    private int _childGeneration;
    // The state machine's wish (Connected announced), before the vif's own reasons for no carrier.
    private bool _carrierWanted;
    // What this run last set the TAP's carrier to; null until it first did (a TAP left by an earlier run
    // keeps whatever it had until the vif connects, so a restart does not flap the host's link).
    private bool? _tapCarrier;
    // What the frontend set over its control ring: a new connection starts afresh, a re-attach keeps it.
    private VifHash? _hash;

    /// <summary>The resources of one connection, released together.</summary>
    private sealed class Data
    {
        public readonly List<RingPage> Rings = [];
        public readonly List<uint> BoundPorts = [];
        public readonly List<IActorRef> Children = [];
        public VifChannels? Channels;
        public VifConnectConfig? Config;
        public RxCredit? RxCredit;
        public BridgePort? Port;
        public LearningBridge? Bridge;
        public IActorRef? Tx;
        public IActorRef? Rx;
        public IActorRef? Ctrl;
        public TapFrameReader? TapReader;
        // The RX ring actor found its guest stalled (Linux's stalled_queues, of one queue).
        public bool RxStalled;
    }

    /// <summary>The vif's own device (<c>--switch tap</c>), or null.</summary>
    public VifTap? Tap { get; private set; }

    public bool IsConnected => _data is not null;

    /// <summary>What the vif is connected with, or null.</summary>
    public VifConnectConfig? Config => _data?.Config;

    /// <summary>The local event-channel ports of the connection, as a log line names them.</summary>
    public string EventChannels => _data?.Channels is not { } c ? "" : c.Split ? $"{c.TxPort}/{c.RxPort}" : $"{c.TxPort}";

    /// <summary>
    /// <c>--switch tap</c>: creates (or re-opens, after a restart) the vif's persistent TAP, before the
    /// backend writes InitWait so that the hotplug script libxl runs then finds it. <paramref name="bringUp"/>
    /// under SIMXEN, where the daemon plays the script's part; attaching it to a bridge is the host's part.
    /// </summary>
    /// <exception cref="IOException">The device cannot be created.</exception>
    public void OpenTap(string? vifname, bool bringUp)
    {
        Tap ??= VifTap.Open(paths.BackendDomId, paths.Vif, vifname, services.TapHost);
        status.TapCounters = Tap.Counters;
        status.TapDevice = Tap.Device.Name;
        if (bringUp)
            Tap.Device.SetUp(true);
    }

    /// <summary>
    /// Maps both rings, starts the ring actors and the port, then binds the event channels (SIMXEN's
    /// order). On any failure what was done is undone before the exception goes to the caller: a grant
    /// or a port the frontend named wrongly (<see cref="Xen.Grants.GrantException"/>,
    /// <see cref="Xen.EventChannels.EventChannelBindException"/>) is its fault and fails only this connect.
    /// </summary>
    /// <param name="resumed">
    /// The backend was Connected already (a daemon, or this vif's tree, started again under a connected
    /// frontend): the multicast filter the frontend built is kept if this daemon holds it, else it is lost
    /// and the vif accepts every multicast frame until its frontend connects anew (decision 83).
    /// </param>
    public void Connect(VifConnectConfig config, bool resumed)
    {
        status.Multicast.Connect(config.Frontend.RequestMulticastControl, resumed);
        Connect(config, mapped: null);
    }

    /// <param name="mapped">The TX and RX ring pages, already mapped and held for this connection (a re-attach), or null to map them.</param>
    private void Connect(VifConnectConfig config, RingPage[]? mapped)
    {
        if (_data is not null)
            throw new InvalidOperationException($"{paths.Vif} is connected already");
        var d = _data = new Data();
        if (mapped is not null)
            d.Rings.AddRange(mapped);
        try
        {
            Attach(d, config, mapped);
        }
        catch
        {
            Disconnect();
            throw;
        }
    }

    /// <summary>
    /// The toolstack changed the vif's <c>rate</c> (Linux's <c>xen_net_rate_changed</c>): the data path is
    /// attached again with <paramref name="config"/> (the same rings), as a restart of the daemon re-attaches
    /// it (channels bound anew, new ring actors resuming at <c>rsp_prod</c>), without a state change, so the
    /// guest does not reconnect. The ring pages stay mapped: the connection's holds pass to the new
    /// connection, so a page is never unmapped under the new ring actors (and its grant's in-use bits are
    /// never cleared under them). The ring actors take their rate when they start, so this is how a new
    /// one reaches them (decisions.md); frames queued for the guest at that moment are dropped. Both new
    /// ports are notified once, in case a notification of the old ring actors went to a port that was
    /// being unbound. On failure as <see cref="Connect"/>: nothing is left attached.
    /// </summary>
    public void Reattach(VifConnectConfig config)
    {
        var d = _data ?? throw new InvalidOperationException($"{paths.Vif} is not connected");
        RingPage[] rings = [.. d.Rings];
        d.Rings.Clear();
        // The TAP's carrier stays as it is: the caller turns it on again at once.
        Release(childrenStopped: false, tapCarrierOff: false);
        Connect(config, rings);
        _data!.Channels!.NotifyTx();
        if (_data.Channels.Split)
            _data.Channels.NotifyRx();
    }

    private void Attach(Data d, VifConnectConfig config, RingPage[]? mapped)
    {
        var (backend, frontend, mtu, _) = config;
        var id = paths.Vif;
        var domid = id.DomId;
        d.Config = config;
        // A new connection starts enabled; cleared before the ring actors start, which read it.
        status.Disabled = false;
        status.Fault = null;

        var txRing = mapped?[0] ?? Map(d, frontend.TxRingRef);
        var rxRing = mapped?[1] ?? Map(d, frontend.RxRingRef);
        var channels = d.Channels = new VifChannels(services.Platform.EventChannels);
        // The same rate on receive (beyond Linux): its wake-up kicks the RX actor once the actor exists.
        var rxCredit = d.RxCredit = backend.Rate is { } rate ? new RxCredit(rate, TimeProvider.System) : null;
        var hash = mapped is not null && _hash is not null ? _hash : _hash = new VifHash();
        var rxSettings = services.Options.RxQueueSettingsFor(domid, mtu, frontend) with { Credit = rxCredit, Hash = config.CtrlRing is null ? null : hash };
        // Bounds the frames on their way to the RX actor, whoever sends them (issue 12, finding 6).
        var rxBacklog = services.Options.NewBacklog(mtu, frontend.TakesGso);
        // The data path of the vif (both rings, and its TAP port) runs on its hypercall lane's thread.
        var lane = services.Hypercalls.For(domid);
        var rx = d.Rx = StartRingActor(d, rxRing, page => lane.Place(RxRingActor.Props(id, services, page, channels, rxSettings)), "rx");
        if (rxCredit is not null)
            rxCredit.OnDue = () => rx.Tell(RingProtocol.RingEvent.Instance);
        TxOutlet outlet;
        if (Tap is not null)
        {
            // --switch tap: the vif's TAP port takes the bridge port's place; the host stack is the switch.
            Tap.SetOffload(frontend);
            d.TapReader = new TapFrameReader(services.Buffers, rx, Tap.Counters) { Mtu = mtu, Backlog = rxBacklog, Multicast = status.Multicast };
            outlet = TxOutlet.ToActor(StartChild(d, lane.Place(VifTapPortActor.Props(Tap, d.TapReader, services.Taps!)), "tap-port"));
        }
        else
        {
            d.Bridge = services.Bridges.Get(backend.Bridge);
            d.Port = d.Bridge.AddPort(id.ToString(), rx, backend.Mac);
            d.Port.Mtu = mtu;
            d.Port.Backlog = rxBacklog;
            d.Port.Multicast = status.Multicast;
            status.BridgePort = d.Port;
            // The TX actor forwards on the port itself (TxOutlet): no actor between the TX and RX rings.
            outlet = TxOutlet.ToBridge(d.Bridge, d.Port);
        }
        var tx = d.Tx = StartRingActor(d, txRing, page => lane.Place(TxRingActor.Props(id, services, page, channels, outlet, backend.Rate)), "tx");

        var events = services.Platform.EventChannels;
        if (frontend.SplitEventChannels)
        {
            channels.TxPort = Bind(d, frontend.TxEventChannel, new RingEventHandler(events, status, tx, channels.TxEvents));
            channels.RxPort = Bind(d, frontend.RxEventChannel, new RingEventHandler(events, status, rx, channels.RxEvents));
        }
        else
        {
            channels.TxPort = channels.RxPort = Bind(d, frontend.TxEventChannel, new RingEventHandler(events, status, tx, channels.TxEvents, rx, channels.RxEvents));
        }
        if (config.CtrlRing is { } ctrl)
        {
            // Linux's connect_ctrl_ring; mapped after the data rings, so that a re-attach finds its page third.
            var ctrlRing = mapped is { Length: > 2 } ? mapped[2] : Map(d, ctrl.RingRef);
            var ctrlChannel = new CtrlChannel(events);
            var handler = new CtrlRequestHandler(hash, domid, queues: 1);
            var ctrlActor = d.Ctrl = StartRingActor(d, ctrlRing, page => CtrlRingActor.Props(id, services, page, ctrlChannel, handler), "ctrl");
            ctrlChannel.Port = Bind(d, ctrl.EventChannel, new RingEventHandler(events, status, ctrlActor, ctrlChannel.Events));
            status.Hash = hash;
        }
        status.Mtu = mtu;
        status.Features = frontend.Describe();
    }

    private RingPage Map(Data d, uint ringRef)
    {
        var page = new RingPage(services.Platform.GrantMapper.Map(paths.Vif.DomId, ringRef, writable: true));
        d.Rings.Add(page);
        return page;
    }

    private uint Bind(Data d, uint remotePort, RingEventHandler handler)
    {
        var port = services.Platform.EventChannels.BindInterdomainLateEoi(paths.Vif.DomId, remotePort, handler);
        d.BoundPorts.Add(port);
        return port;
    }

    /// <summary>A ring actor holding <paramref name="page"/> (it lets go when it stops; here, if it never started).</summary>
    private IActorRef StartRingActor(Data d, RingPage page, Func<RingPage, Props> props, string name)
    {
        page.AddHolder();
        try
        {
            return StartChild(d, props(page), name);
        }
        catch
        {
            page.Release();
            throw;
        }
    }

    /// <summary>
    /// The child under its usual name, unless the last connection's child of that name is still stopping
    /// (a frontend that reconnects at once): Akka keeps a name until its child has terminated.
    /// </summary>
    private IActorRef StartChild(Data d, Props props, string name)
    {
        var child = context.ActorOf(props, context.Child(name).IsNobody() ? name : $"{name}-{++_childGeneration}");
        d.Children.Add(child);
        return child;
    }

    /// <summary>
    /// The state machine's carrier (<c>netif_carrier_on</c> at Connected): frames are taken for the guest
    /// while it is on and the vif is neither disabled nor stalled (<see cref="ApplyCarrier"/>).
    /// </summary>
    public void SetCarrier(bool on)
    {
        _carrierWanted = on;
        ApplyCarrier();
    }

    /// <summary>
    /// The RX ring actor <paramref name="rx"/> found its guest stalled, or taking frames again (Linux's
    /// <c>xenvif_queue_carrier_off/on</c>): the carrier follows. False when nothing changed, or the word
    /// comes from a ring actor of an earlier connection.
    /// </summary>
    public bool OnRxStall(IActorRef rx, bool stalled)
    {
        if (_data is not { } d || !rx.Equals(d.Rx) || d.RxStalled == stalled)
            return false;
        d.RxStalled = stalled;
        status.RxStalled = stalled;
        if (stalled)
            Interlocked.Increment(ref status.RxStalls);
        ApplyCarrier();
        return true;
    }

    /// <summary>
    /// The carrier is on while the state machine wants it and the vif is connected, not disabled and its
    /// guest not stalled: the bridge port forwards to the vif, the TAP reader takes frames, and the TAP's
    /// own carrier (TUNSETCARRIER) tells the host stack, so that a Linux bridge stops sending to it.
    /// </summary>
    private void ApplyCarrier()
    {
        var d = _data;
        var on = d is not null && _carrierWanted && !d.RxStalled && !status.Disabled;
        if (d?.Port is { } port)
            port.Connected = on;
        if (d?.TapReader is { } reader)
            reader.Carrier = on;
        status.Carrier = on;
        SetTapCarrier(on);
    }

    private void SetTapCarrier(bool on)
    {
        if (Tap is null || _tapCarrier == on)
            return;
        try
        {
            Tap.Device.SetCarrier(on);
            _tapCarrier = on;
        }
        catch (Xen.Platform.Native.LinuxDeviceException ex)
        {
            // The daemon's own view (bridge port, reader) holds either way; the host's link is then not told.
            log.Warning("{Vif}: setting the carrier of {Tap} {State}: {Reason}", paths.Vif, Tap.Device.Name, on ? "on" : "off", ex.Message);
        }
    }

    /// <summary>Makes both ring actors look at their rings.</summary>
    public void Kick()
    {
        _data?.Tx?.Tell(RingProtocol.RingEvent.Instance);
        _data?.Rx?.Tell(RingProtocol.RingEvent.Instance);
        _data?.Ctrl?.Tell(RingProtocol.RingEvent.Instance);
    }

    /// <summary>
    /// A ring met a fatal protocol error (Linux's <c>xenvif_fatal_tx_err</c>): the vif is disabled, carrier
    /// off, and both rings stop (SIMXEN: no more requests consumed, no responses), until the frontend
    /// connects anew. False when it was disabled already.
    /// </summary>
    public bool Disable(string reason)
    {
        if (status.Disabled)
            return false;
        status.Disabled = true;
        status.Fault = reason;
        Interlocked.Increment(ref status.Faults);
        Interlocked.Increment(ref services.Status.DisabledTotal);
        ApplyCarrier();
        _data?.Tx?.Tell(RingProtocol.Stop.Instance);
        _data?.Rx?.Tell(RingProtocol.Stop.Instance);
        return true;
    }

    /// <summary>Undoes <see cref="Connect"/> (or what of it was done): ports unbound, carrier off, children stopped, ring holds released.</summary>
    public void Disconnect()
    {
        Release(childrenStopped: false, tapCarrierOff: true);
        // Linux's xenvif_disconnect_data frees the list: the next connection starts with none.
        status.Multicast.Reset();
    }

    /// <summary>
    /// The connection actor stops (or restarts): its children are stopped or stopping with it. The TAP is
    /// deleted when the vif went (<paramref name="deleteTap"/>); a daemon that stops leaves it for its next run.
    /// </summary>
    public void Free(bool deleteTap)
    {
        // A daemon that stops leaves the TAP's carrier as it is, for its next run to take over without a flap.
        Release(childrenStopped: true, tapCarrierOff: false);
        if (Tap is null)
            return;
        services.Taps!.StopReading(Tap.Device);
        Tap.Close(delete: deleteTap);
    }

    private void Release(bool childrenStopped, bool tapCarrierOff)
    {
        var d = _data;
        if (d is null)
            return;
        _data = null;
        _carrierWanted = false;
        status.Carrier = false;
        status.RxStalled = false;
        status.Hash = null;
        if (tapCarrierOff)
            SetTapCarrier(false);
        // No wake-up for a queue that is going (a restart of the RX actor keeps the same credit, a new connection has its own).
        d.RxCredit?.Dispose();
        // The connection's hold on the ring pages; each ring actor lets go of its own when it has stopped
        // (RingPage), so no drain reads a page that is gone whatever order they stop in.
        foreach (var ring in d.Rings)
            ring.Release();
        foreach (var port in d.BoundPorts)
        {
            try { services.Platform.EventChannels.Unbind(port); }
            catch (Exception ex) when (ex is IOException or InvalidOperationException) { log.Warning("{Vif}: unbinding port {Port}: {Reason}", paths.Vif, port, ex.Message); }
        }
        if (d.Port is not null)
        {
            if (status.BridgePort == d.Port)
                status.BridgePort = null;
            d.Port.Connected = false;
            d.Bridge?.RemovePort(d.Port);
        }
        if (d.TapReader is not null)
            d.TapReader.Carrier = false;
        if (childrenStopped)
            return;
        foreach (var child in d.Children)
            context.Stop(child);
    }
}
