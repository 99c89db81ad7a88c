using Akka.Actor;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Vif;

/// <summary>
/// Attaching one queue's rings, as Linux's <c>xenvif_connect_data</c> does for one <c>xenvif_queue</c>: its
/// two ring pages mapped (or held from the last attach), its <see cref="VifQueueActor"/> with the RX and
/// TX ring actors under it on the queue's lane, its event channels bound with a late EOI. In two steps,
/// because the vif's bridge port or TAP reader needs every queue's RX actor and every TX actor needs the
/// port: <see cref="Open"/> (pages, queue actor, RX actor), then <see cref="Serve"/> (TX actor, channels).
/// Whatever was done is undone by <see cref="Release"/>. Used on the connection actor's thread only.
/// </summary>
internal sealed class VifQueue
{
    private readonly BackendServices _services;
    private readonly VifPaths _paths;
    private readonly VifStatus _status;
    private readonly QueueRings _rings;
    private readonly List<uint> _boundPorts = [];
    private ActorCell? _cell;

    private VifQueue(BackendServices services, VifPaths paths, VifStatus status, QueueRings rings, VifChannels channels)
    {
        _services = services;
        _paths = paths;
        _status = status;
        _rings = rings;
        Channels = channels;
    }

    public VifChannels Channels { get; }

    /// <summary>The queue's TX and RX ring pages, held by this queue until <see cref="Release"/> (a re-attach takes them over).</summary>
    public List<RingPage> Pages { get; } = [];

    /// <summary>The queue actor (<c>queue-N</c>), or null until <see cref="Open"/> made it.</summary>
    public IActorRef? Actor { get; private set; }

    public IActorRef? Tx { get; private set; }

    public IActorRef? Rx { get; private set; }

    /// <summary>The RX credit of a rate-limited vif, per queue (each RX actor spends its own).</summary>
    public RxCredit? RxCredit { get; private set; }

    /// <summary>The queue's RX ring actor found its guest stalled (one of Linux's <c>stalled_queues</c>).</summary>
    public bool RxStalled { get; set; }

    /// <summary>
    /// Maps the rings (unless <paramref name="mapped"/> holds them), starts the queue actor under
    /// <paramref name="context"/> as <paramref name="name"/> and the RX ring actor under it. On failure the
    /// caller releases what is in the returned queue through <paramref name="opened"/>, which is given the
    /// queue before anything that can fail.
    /// </summary>
    public static VifQueue Open(IUntypedActorContext context, BackendServices services, VifPaths paths, VifStatus status,
        int index, QueueRings rings, VifQueueStatus? queueStatus, RxQueueSettings rxSettings, RingPage[]? mapped, string name, Action<VifQueue> opened)
    {
        var queue = new VifQueue(services, paths, status, rings, new VifChannels(services.Platform.EventChannels, index, queueStatus));
        opened(queue);
        // Owned by the queue from here, so that a failure below still disposes of it.
        queue.RxCredit = rxSettings.Credit;
        if (mapped is not null)
            queue.Pages.AddRange(mapped);
        var tx = mapped?[0] ?? queue.Map(rings.TxRingRef);
        var rx = mapped?[1] ?? queue.Map(rings.RxRingRef);
        queue.Actor = context.ActorOf(VifQueueActor.Props(status), name);
        // The ring actors are the queue actor's children, attached from here so that the channels can be
        // bound to them and the port given them now, as Linux's connect does it, in one go.
        queue._cell = (ActorCell)((ActorRefWithCell)queue.Actor).Underlying;
        var credit = rxSettings.Credit;
        var lane = services.Hypercalls.For(paths.Vif.DomId, index);
        var channels = queue.Channels;
        queue.Rx = queue.StartRingActor(rx, page => lane.Place(RxRingActor.Props(paths.Vif, services, page, channels, rxSettings)), "rx");
        if (credit is not null)
        {
            var rxActor = queue.Rx;
            credit.OnDue = () => rxActor.Tell(RingProtocol.RingEvent.Instance);
        }
        return queue;
    }

    /// <summary>Starts the TX ring actor (forwarding through <paramref name="outlet"/>), then binds the event channels.</summary>
    public void Serve(TxOutlet outlet, Xen.Xenbus.RateLimit? rate)
    {
        var lane = _services.Hypercalls.For(_paths.Vif.DomId, Channels.Queue);
        var channels = Channels;
        var tx = Tx = StartRingActor(Pages[0], page => lane.Place(TxRingActor.Props(_paths.Vif, _services, page, channels, outlet, rate)), "tx");
        var events = _services.Platform.EventChannels;
        if (_rings.SplitEventChannels)
        {
            channels.TxPort = Bind(_rings.TxEventChannel, new RingEventHandler(events, _status, tx, channels.TxEvents));
            channels.RxPort = Bind(_rings.RxEventChannel, new RingEventHandler(events, _status, Rx!, channels.RxEvents));
        }
        else
        {
            channels.TxPort = channels.RxPort = Bind(_rings.TxEventChannel, new RingEventHandler(events, _status, tx, channels.TxEvents, Rx, channels.RxEvents));
        }
    }

    private RingPage Map(uint ringRef)
    {
        var page = new RingPage(_services.Platform.GrantMapper.Map(_paths.Vif.DomId, ringRef, writable: true));
        Pages.Add(page);
        return page;
    }

    private uint Bind(uint remotePort, RingEventHandler handler)
    {
        var port = _services.Platform.EventChannels.BindInterdomainLateEoi(_paths.Vif.DomId, remotePort, handler);
        _boundPorts.Add(port);
        return port;
    }

    /// <summary>A ring actor under the queue actor holding <paramref name="page"/> (it lets go when it stops; here, if it never started).</summary>
    private IActorRef StartRingActor(RingPage page, Func<RingPage, Props> props, string name)
    {
        page.AddHolder();
        try
        {
            return _cell!.AttachChild(props(page), isSystemService: false, name);
        }
        catch
        {
            page.Release();
            throw;
        }
    }

    /// <summary>Makes both ring actors look at their rings.</summary>
    public void Kick()
    {
        Tx?.Tell(RingProtocol.RingEvent.Instance);
        Rx?.Tell(RingProtocol.RingEvent.Instance);
    }

    /// <summary>Both rings stop serving (the vif is disabled).</summary>
    public void Stop()
    {
        Tx?.Tell(RingProtocol.Stop.Instance);
        Rx?.Tell(RingProtocol.Stop.Instance);
    }

    /// <summary>Notifies the frontend on both of the queue's ports (after a re-attach).</summary>
    public void Notify()
    {
        Channels.NotifyTx();
        if (Channels.Split)
            Channels.NotifyRx();
    }

    /// <summary>
    /// Undoes <see cref="Open"/> and <see cref="Serve"/>: no RX credit wake-up, the queue's hold on its pages
    /// released (each ring actor lets go of its own when it has stopped), ports unbound, and, unless
    /// <paramref name="actorStopped"/>, the queue actor (with its ring actors) stopped.
    /// </summary>
    public void Release(IUntypedActorContext context, bool actorStopped, Action<uint, Exception> unbindFailed)
    {
        RxCredit?.Dispose();
        foreach (var page in Pages)
            page.Release();
        Pages.Clear();
        foreach (var port in _boundPorts)
        {
            try { _services.Platform.EventChannels.Unbind(port); }
            catch (Exception ex) when (ex is IOException or InvalidOperationException) { unbindFailed(port, ex); }
        }
        _boundPorts.Clear();
        if (!actorStopped && Actor is not null)
            context.Stop(Actor);
    }
}
