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
/// <c>xenvif_disconnect_data</c>), its data path: its queues (<see cref="VifQueue"/>: ring pages, event
/// channels, the queue actor with its TX and RX ring actors), the vif's bridge port (its TX actors forward on
/// it, and it steers frames for the guest to the queues' RX actors) or its TAP port actor. No xenstore here: what to connect with comes from <see cref="VifBackend"/>, when from the
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
        public readonly List<VifQueue> Queues = [];
        public readonly List<IActorRef> Children = [];
        public VifConnectConfig? Config;
        public BridgePort? Port;
        public LearningBridge? Bridge;
        // The control ring, if the frontend set one up (Linux's ctrl ring is the vif's, not a queue's).
        public VifCtrlRing? Ctrl;
        public TapFrameReader? TapReader;
        // Queues whose RX ring actor found its guest stalled (Linux's stalled_queues).
        public int StalledQueues;
    }

    /// <summary>The vif's own device (<c>--switch tap</c>), or null.</summary>
    public VifTap? Tap { get; private set; }

    public bool IsConnected => _data is not null;

    /// <summary>What the vif is connected with, or null.</summary>
    public VifConnectConfig? Config => _data?.Config;

    /// <summary>The local event-channel ports of the connection, as a log line names them.</summary>
    public string EventChannels => _data is not { } d ? "" : string.Join(',', d.Queues.Select(q => q.Channels.Split ? $"{q.Channels.TxPort}/{q.Channels.RxPort}" : $"{q.Channels.TxPort}"));

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
        Connect(config, mapped: null, ctrlMapped: null);
    }

    /// <param name="mapped">Each queue's TX and RX ring pages, already mapped and held for this connection (a re-attach), or null to map them.</param>
    /// <param name="ctrlMapped">The control ring's page, held likewise, or null.</param>
    private void Connect(VifConnectConfig config, RingPage[][]? mapped, RingPage? ctrlMapped)
    {
        if (_data is not null)
            throw new InvalidOperationException($"{paths.Vif} is connected already");
        var d = _data = new Data();
        try
        {
            Attach(d, config, mapped, ctrlMapped);
        }
        catch
        {
            // Pages held for queues that were never opened (a re-attach that failed part way) are let go here;
            // the opened queues release their own.
            for (var i = d.Queues.Count; i < (mapped?.Length ?? 0); i++)
            {
                foreach (var page in mapped![i])
                    page.Release();
            }
            Disconnect();
            throw;
        }
        finally
        {
            // A control ring page held for a re-attach that never opened its ring (it failed first, or the
            // ring is gone from the configuration): an opened ring releases its own.
            if (d.Ctrl is null)
                ctrlMapped?.Release();
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
    /// The old ring actors have stopped before the new ones start (decision 90): a stop reaches a ring actor
    /// only after its queue actor's, so an old TX actor could go on making passes and moving <c>rsp_prod</c>
    /// after the new one had attached at the value it read, and the new one then found more than a ring of
    /// requests and disabled the vif as hostile (ImpossibleRequestProducer).
    /// </summary>
    /// <exception cref="TimeoutException">An old actor did not stop within <paramref name="stopTimeout"/> (a lane stuck): nothing is attached.</exception>
    public async Task ReattachAsync(VifConnectConfig config, TimeSpan stopTimeout)
    {
        var d = _data ?? throw new InvalidOperationException($"{paths.Vif} is not connected");
        var rings = new RingPage[d.Queues.Count][];
        for (var i = 0; i < rings.Length; i++)
        {
            rings[i] = [.. d.Queues[i].Pages];
            d.Queues[i].Pages.Clear();
        }
        var ctrlPage = d.Ctrl?.TakePage();
        // The queue actors (their ring actors stop before them) and the ctrl ring's and ports' actors.
        IActorRef[] stopping = [.. d.Queues.Select(q => q.Actor).OfType<IActorRef>(), .. d.Children];
        // The TAP's carrier stays as it is: the caller turns it on again at once.
        Release(childrenStopped: false, tapCarrierOff: false);
        try
        {
            await Task.WhenAll(stopping.Select(actor => actor.GracefulStop(stopTimeout)));
        }
        catch (TaskCanceledException)
        {
            foreach (var page in rings.SelectMany(r => r))
                page.Release();
            ctrlPage?.Release();
            throw new TimeoutException($"{paths.Vif}: the ring actors did not stop within {stopTimeout.TotalSeconds:0} s for the re-attach");
        }
        Connect(config, rings, ctrlPage);
        foreach (var queue in _data!.Queues)
            queue.Notify();
    }

    private void Attach(Data d, VifConnectConfig config, RingPage[][]? mapped, RingPage? ctrlMapped)
    {
        var (backend, frontend, mtu, _) = config;
        var id = paths.Vif;
        var domid = id.DomId;
        d.Config = config;
        // A new connection starts enabled; cleared before the ring actors start, which read it.
        status.Disabled = false;
        status.Fault = null;

        var rings = frontend.Queues;
        // What the frontend set over its control ring: kept across a re-attach (a new rate), new per connection.
        var hash = mapped is not null && _hash is not null ? _hash : _hash = new VifHash();
        // Per-queue figures only for several queues: a one-queue vif's status and metrics stay as they were.
        var queueStatus = rings.Count > 1 ? new VifQueueStatus[rings.Count] : [];
        var rxSettings = services.Options.RxQueueSettingsFor(domid, mtu, frontend) with { Hash = config.CtrlRing is null ? null : hash };
        for (var i = 0; i < rings.Count; i++)
        {
            if (queueStatus.Length > 0)
                queueStatus[i] = new VifQueueStatus(i);
            // The same rate on receive (beyond Linux), per queue: its wake-up kicks that queue's RX actor.
            var credit = backend.Rate is { } rate ? new RxCredit(rate, TimeProvider.System) : null;
            VifQueue.Open(context, services, paths, status, i, rings[i], queueStatus.Length > 0 ? queueStatus[i] : null,
                rxSettings with { Credit = credit }, mapped?[i], ChildName($"queue-{i}"), d.Queues.Add);
        }
        status.Queues = queueStatus;
        var receivers = d.Queues.Select(q => q.Rx!).ToArray();
        // Linux's xenvif_select_queue: the frontend's Toeplitz mapping once it chose an algorithm, else a flow hash.
        IRxQueueSelector steering = config.CtrlRing is null ? FlowHashQueueSelector.Instance : new CtrlRingQueueSelector(hash);
        // Bounds the frames on their way to the RX actors, whoever sends them (issue 12, finding 6).
        var rxBacklog = services.Options.NewBacklog(mtu, frontend.TakesGso);
        TxOutlet outlet;
        if (Tap is not null)
        {
            // --switch tap: the vif's TAP port takes the bridge port's place; the host stack is the switch.
            Tap.SetOffload(frontend);
            d.TapReader = new TapFrameReader(services.Buffers, receivers, steering, Tap.Counters) { Mtu = mtu, Backlog = rxBacklog, Multicast = status.Multicast };
            var lane = services.Hypercalls.For(domid);
            outlet = TxOutlet.ToActor(StartChild(d, lane.Place(VifTapPortActor.Props(Tap, d.TapReader, services.Taps!)), "tap-port"));
        }
        else
        {
            d.Bridge = services.Bridges.Get(backend.Bridge);
            d.Port = d.Bridge.AddPort(id.ToString(), receivers[0], backend.Mac);
            if (receivers.Length > 1)
                d.Port.SetQueues(receivers, steering);
            d.Port.Mtu = mtu;
            d.Port.Backlog = rxBacklog;
            d.Port.Multicast = status.Multicast;
            status.BridgePort = d.Port;
            // The TX actors forward on the port itself (TxOutlet): no actor between the TX and RX rings.
            outlet = TxOutlet.ToBridge(d.Bridge, d.Port);
        }
        foreach (var queue in d.Queues)
            queue.Serve(outlet, backend.Rate);
        if (config.CtrlRing is { } ctrl)
        {
            // Published before the ctrl ring's actor starts: a frontend's request may be answered at once,
            // and /status must show the hash it set from then on (a failed open is undone by Release).
            status.Hash = hash;
            // Linux's connect_ctrl_ring, after the data rings; the mapping table is checked against the real queue count.
            VifCtrlRing.Open(services, paths, status, ctrl, hash, d.Queues.Count, ctrlMapped, (props, name) => StartChild(d, props, name), c => d.Ctrl = c);
        }
        status.Mtu = mtu;
        status.Features = frontend.Describe();
    }

    /// <summary>
    /// The child's usual name, unless the last connection's child of that name is still stopping
    /// (a frontend that reconnects at once): Akka keeps a name until its child has terminated.
    /// </summary>
    private string ChildName(string name) => context.Child(name).IsNobody() ? name : $"{name}-{++_childGeneration}";

    /// <summary>The child under <see cref="ChildName"/>.</summary>
    private IActorRef StartChild(Data d, Props props, string name)
    {
        var child = context.ActorOf(props, ChildName(name));
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
    /// <c>xenvif_queue_carrier_off/on</c>): the carrier is off while any queue is stalled, as Linux's
    /// <c>stalled_queues</c> count. False when nothing changed, or the word comes from a ring actor of an
    /// earlier connection.
    /// </summary>
    public bool OnRxStall(IActorRef rx, bool stalled)
    {
        if (_data is not { } d || d.Queues.Find(q => rx.Equals(q.Rx)) is not { } queue || queue.RxStalled == stalled)
            return false;
        queue.RxStalled = stalled;
        if (queue.Channels.QueueStatus is { } q)
            q.RxStalled = stalled;
        d.StalledQueues += stalled ? 1 : -1;
        status.RxStalled = d.StalledQueues > 0;
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
        var on = d is not null && _carrierWanted && d.StalledQueues == 0 && !status.Disabled;
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

    /// <summary>Makes every ring actor look at its ring.</summary>
    public void Kick()
    {
        foreach (var queue in _data?.Queues ?? [])
            queue.Kick();
        _data?.Ctrl?.Kick();
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
        foreach (var queue in _data?.Queues ?? [])
            queue.Stop();
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
        status.Queues = [];
        // Each queue: no RX credit wake-up (a restart of an RX actor keeps the same credit, a new connection
        // has its own), its hold on the ring pages released (each ring actor lets go of its own when it has
        // stopped, RingPage, so no drain reads a page that is gone whatever order they stop in), ports
        // unbound, and its actor stopped with the other children below.
        foreach (var queue in d.Queues)
            queue.Release(context, actorStopped: childrenStopped, UnbindFailed);
        d.Ctrl?.Release(UnbindFailed);
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

    private void UnbindFailed(uint port, Exception ex) =>
        log.Warning("{Vif}: unbinding port {Port}: {Reason}", paths.Vif, port, ex.Message);
}
