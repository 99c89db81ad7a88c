using Akka.Actor;
using Backend.Actors.Ctrl;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Xen.Ctrl;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Vif;

/// <summary>
/// Attaching a frontend's control ring, as Linux's <c>connect_ctrl_ring</c>: its page mapped (or held from the
/// last attach), its <see cref="CtrlRingActor"/> started as a child of the connection (control path, not a
/// lane), its event channel bound with a late EOI. The handler checks the mapping table against the vif's
/// real queue count. Whatever was done is undone by <see cref="Release"/>. Used on the connection actor's
/// thread only, as <see cref="VifQueue"/>.
/// </summary>
internal sealed class VifCtrlRing
{
    private readonly BackendServices _services;
    private uint? _boundPort;

    private VifCtrlRing(BackendServices services, RingPage page)
    {
        _services = services;
        Page = page;
    }

    /// <summary>The ring page, held by this attach until <see cref="Release"/> or until a re-attach takes it (<see cref="TakePage"/>).</summary>
    public RingPage? Page { get; private set; }

    public IActorRef? Actor { get; private set; }

    /// <summary>
    /// Maps the ring (unless <paramref name="mapped"/> is it), starts the ring actor through
    /// <paramref name="startChild"/> and binds the channel. <paramref name="opened"/> is given the attach
    /// as soon as it holds the page, so that a failure after it still releases what was done.
    /// </summary>
    public static void Open(BackendServices services, VifPaths paths, VifStatus status, FrontendCtrlRing ring, VifHash hash, int queues,
        RingPage? mapped, Func<Props, string, IActorRef> startChild, Action<VifCtrlRing> opened)
    {
        var domid = paths.Vif.DomId;
        var page = mapped ?? new RingPage(services.Platform.GrantMapper.Map(domid, ring.RingRef, writable: true));
        var ctrl = new VifCtrlRing(services, page);
        opened(ctrl);
        var events = services.Platform.EventChannels;
        var channel = new CtrlChannel(events);
        var handler = new CtrlRequestHandler(hash, domid, queues);
        // The actor holds the page too, and lets go when it has stopped, so no request is read from a page gone.
        page.AddHolder();
        try
        {
            ctrl.Actor = startChild(CtrlRingActor.Props(paths.Vif, services, page, channel, handler), "ctrl");
        }
        catch
        {
            page.Release();
            throw;
        }
        var port = events.BindInterdomainLateEoi(domid, ring.EventChannel, new RingEventHandler(events, status, ctrl.Actor, channel.Events));
        ctrl._boundPort = port;
        channel.Port = port;
    }

    /// <summary>The page, for a re-attach to hold on to; this attach lets go of it no more.</summary>
    public RingPage? TakePage()
    {
        var page = Page;
        Page = null;
        return page;
    }

    public void Kick() => Actor?.Tell(RingProtocol.RingEvent.Instance);

    /// <summary>Lets go of the page and unbinds the channel; the actor is stopped with the connection's other children.</summary>
    public void Release(Action<uint, Exception> unbindFailed)
    {
        Page?.Release();
        Page = null;
        if (_boundPort is { } port)
        {
            try { _services.Platform.EventChannels.Unbind(port); }
            catch (Exception ex) when (ex is IOException or InvalidOperationException) { unbindFailed(port, ex); }
        }
        _boundPort = null;
    }
}
