using Akka.Actor;
using Akka.Event;
using Backend.Actors.Bridge;
using Backend.Actors.HostNetwork;
using Backend.Actors.Vif;
using Backend.Xen.Buffers;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Xenbus;

/// <summary>
/// Watches <c>/local/domain/&lt;B&gt;/backend/vif</c> and keeps one <see cref="VifConnectionActor"/> tree
/// per (frontend domid, handle): spawned when a backend directory appears, stopped when it goes away.
/// Each tree fails alone: an exception restarts that vif's tree, which re-attaches to its live rings.
/// </summary>
public sealed class XenbusSupervisor : ReceiveActor
{
    private readonly BackendServices _services;
    private readonly ushort _backendDomId;
    private readonly string _root;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<VifId, IActorRef> _vifs = [];
    private readonly HashSet<VifId> _forgotten = [];
    private readonly Dictionary<IActorRef, VifId> _byActor = [];
    // Trees stopped for good and not yet terminated: a connection actor still starting when it was
    // stopped creates its status entry after StopVif removed it, so the entry goes again at Terminated.
    private readonly Dictionary<IActorRef, VifId> _stopping = [];
    // Vifs whose backend directory came back while their last tree was still stopping: Akka keeps a
    // child's name until it has terminated, so the new tree is spawned at the old one's Terminated.
    // (Spawning it at once threw InvalidActorNameException in the supervisor, whose restart stopped every
    // vif's tree: the frames in flight to all guests were lost — the soak's loss after a quick re-add.)
    private readonly HashSet<VifId> _awaitingStop = [];
    // The handles of each domain's vifs in _vifs: a domain's rescan looks at its own vifs, not at all of
    // them (an O(vifs) scan per event made connecting a thousand guests quadratic).
    private readonly Dictionary<ushort, HashSet<uint>> _handles = [];
    // Looks at a vif's or a domain's directory in flight, and whether an event for it came meanwhile (the
    // answer may then be stale: it is dropped and the look repeated). The supervisor does not wait for
    // them, so a thousand vifs created at once are looked at together, not one round trip after another.
    private readonly Dictionary<VifId, bool> _vifChecks = [];
    private readonly Dictionary<ushort, bool> _domainScans = [];
    private IAsyncDisposable? _watch;
    private bool _scanned;
    // The vifs found by the first scan that have not yet acted on their frontend's state; the rings
    // stay held (RingGate) until it is empty, then it is null.
    private HashSet<VifId>? _attaching;

    public XenbusSupervisor(BackendServices services)
    {
        _services = services;
        _backendDomId = services.Platform.BackendDomId;
        _root = VifPaths.BackendVifRoot(_backendDomId);

        ReceiveAsync<XenbusProtocol.Start>(_ => StartAsync());
        ReceiveAsync<XenbusProtocol.BackendChanged>(OnBackendChangedAsync);
        Receive<XenbusProtocol.VifChecked>(OnVifChecked);
        Receive<XenbusProtocol.DomainScanned>(OnDomainScanned);
        Receive<VifProtocol.VifForgotten>(OnForgotten);
        Receive<Terminated>(OnTerminated);
        Receive<VifProtocol.Settled>(s => Attached(s.Vif));
        Receive<XenbusProtocol.GetVifCount>(_ => Sender.Tell(_vifs.Count));
    }

    public static Props Props(BackendServices services) => Akka.Actor.Props.Create(() => new XenbusSupervisor(services));

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(10, TimeSpan.FromMinutes(1), ex =>
        {
            _log.Error(ex, "vif connection failed, restarting its tree: {Reason}", ex.Message);
            return Directive.Restart;
        });

    protected override void PreStart()
    {
        // Frame batches that a stopping vif tree never takes return their buffers (before any vif starts).
        FrameBatchReclaimer.For(Context.System);
        // SIMXEN: re-attach to every vif and bind again, all before any ring is processed.
        _services.RingGate.Close();
        Self.Tell(XenbusProtocol.Start.Instance);
    }

    protected override void PostStop()
    {
        if (_watch is not null)
            _ = _watch.DisposeAsync().AsTask();
    }

    private async Task StartAsync()
    {
        if (_services.Options.Switch == SwitchMode.Tap)
            await SweepStaleTapsAsync();
        var self = Self;
        // backend/vif may not exist yet, or vanish with its last vif; the watch holds regardless, and
        // its initial event makes us scan what is already there.
        _watch = await _services.XenStore.WatchAsync(_root, "xnb:backend-vif",
            e => self.Tell(new XenbusProtocol.BackendChanged(e.Path)));
        _log.Info("watching {Root}", _root);
        Context.System.EventStream.Publish(new XenbusProtocol.Ready(_root));
    }

    private async Task OnBackendChangedAsync(XenbusProtocol.BackendChanged changed)
    {
        var path = changed.Path;
        if (!_scanned)
        {
            // The first event (the watch's initial one) scans everything; what it finds is what the
            // daemon re-attaches to before any ring runs.
            if (!await TryRescanAsync())
                return;
            _scanned = true;
            _attaching = [.. _vifs.Keys];
            _log.Info("{Count} vifs found at start; rings held until each has re-attached", _attaching.Count);
            OpenRingsWhenAttached();
            return;
        }
        var parsed = VifPaths.ParseWatchPath(_root, path);
        switch (parsed.Kind)
        {
            case VifWatchPathKind.Root:
                // The root itself (initial event, creation, removal): look at everything.
                await TryRescanAsync();
                break;
            case VifWatchPathKind.Domain:
                RescanDomain(parsed.Vif.DomId);
                break;
            case VifWatchPathKind.VifDirectory:
                CheckVif(parsed.Vif);
                break;
            case VifWatchPathKind.VifNode when !_vifs.ContainsKey(parsed.Vif) || _vifChecks.ContainsKey(parsed.Vif):
                // A key of a vif we do not serve yet, or one whose look is in flight (its answer may be stale).
                CheckVif(parsed.Vif);
                break;
        }
    }

    /// <summary>
    /// A full rescan; false when the xenstore connection was lost under it. That is no failure of ours: the
    /// watch, set again on the next connection, fires for backend/vif itself, which rescans.
    /// </summary>
    private async Task<bool> TryRescanAsync()
    {
        try
        {
            await RescanAsync();
            return true;
        }
        catch (XenStoreConnectionException ex)
        {
            _log.Warning("xenstore connection lost during a scan of {Root}: {Reason}; scanning again once it is back", _root, ex.Message);
            return false;
        }
    }

    private async Task RescanAsync()
    {
        var present = new HashSet<VifId>();
        foreach (var domText in await _services.XenStore.DirectoryAsync(_root) ?? [])
        {
            if (!VifPaths.TryParseDomId(domText, out var domid))
                continue;
            foreach (var handleText in await _services.XenStore.DirectoryAsync($"{_root}/{domText}") ?? [])
                if (VifPaths.TryParseHandle(handleText, out var handle))
                    present.Add(new VifId(domid, handle));
        }
        Reconcile(present, [.. _vifs.Keys], _ => true);
    }

    private void RescanDomain(ushort domid)
    {
        if (!BeginLook(_domainScans, domid))
            return;
        _services.XenStore.DirectoryAsync($"{_root}/{domid}").ContinueWith(
            t => new XenbusProtocol.DomainScanned(domid, t.IsCompletedSuccessfully ? t.Result : null, t.Exception?.GetBaseException()),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).PipeTo(Self);
    }

    private void OnDomainScanned(XenbusProtocol.DomainScanned scanned)
    {
        var domid = scanned.DomId;
        if (!EndLook(_domainScans, domid, scanned.Failure, RescanDomain))
            return;
        var present = new HashSet<VifId>();
        foreach (var handleText in scanned.Handles ?? [])
            if (VifPaths.TryParseHandle(handleText, out var handle))
                present.Add(new VifId(domid, handle));
        var known = new List<VifId>();
        if (_handles.TryGetValue(domid, out var handles))
            foreach (var handle in handles)
                known.Add(new VifId(domid, handle));
        Reconcile(present, known, id => id.DomId == domid);
    }

    private void CheckVif(VifId id)
    {
        if (!BeginLook(_vifChecks, id))
            return;
        _services.XenStore.DirectoryAsync(new VifPaths(_backendDomId, id).BackendDir).ContinueWith(
            t => new XenbusProtocol.VifChecked(id, t.IsCompletedSuccessfully && t.Result is not null, t.Exception?.GetBaseException()),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).PipeTo(Self);
    }

    private void OnVifChecked(XenbusProtocol.VifChecked checkedVif)
    {
        var id = checkedVif.Vif;
        if (!EndLook(_vifChecks, id, checkedVif.Failure, CheckVif))
            return;
        Reconcile(checkedVif.Exists ? [id] : [], _vifs.ContainsKey(id) ? [id] : [], v => v == id);
    }

    /// <summary>Records a wanted look at <paramref name="key"/>; false when one is in flight (its answer is then stale).</summary>
    private static bool BeginLook<TKey>(Dictionary<TKey, bool> looks, TKey key)
        where TKey : notnull
    {
        if (looks.ContainsKey(key))
        {
            looks[key] = true;
            return false;
        }
        looks[key] = false;
        return true;
    }

    /// <summary>
    /// Ends a look: true when its answer is current and is to be acted on. A stale one is looked at again,
    /// an unknown one ignored, one lost with the xenstore connection left to the rescan that follows the
    /// reconnect (see <see cref="TryRescanAsync"/>), and any other xenstore failure fails the supervisor.
    /// </summary>
    private bool EndLook<TKey>(Dictionary<TKey, bool> looks, TKey key, Exception? failure, Action<TKey> lookAgain)
        where TKey : notnull
    {
        if (!looks.Remove(key, out var stale))
            return false;
        if (failure is XenStoreConnectionException)
        {
            _log.Warning("xenstore connection lost during a look at {Key}: {Reason}; scanning again once it is back", key, failure.Message);
            return false;
        }
        if (failure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        if (!stale)
            return true;
        lookAgain(key);
        return false;
    }

    /// <summary>
    /// Spawns trees for present vifs and stops the <paramref name="known"/> ones (every running vif in
    /// <paramref name="scope"/>) that are gone.
    /// </summary>
    private void Reconcile(HashSet<VifId> present, List<VifId> known, Func<VifId, bool> scope)
    {
        foreach (var id in known)
            if (!present.Contains(id))
                StopVif(id, "backend directory removed");
        _forgotten.RemoveWhere(id => scope(id) && !present.Contains(id));
        _awaitingStop.RemoveWhere(id => scope(id) && !present.Contains(id));
        foreach (var id in present)
            if (!_vifs.ContainsKey(id) && !_forgotten.Contains(id))
                SpawnVif(id);
    }

    private void SpawnVif(VifId id)
    {
        var name = $"vif{id.DomId}.{id.Handle}";
        if (!Context.Child(name).IsNobody())
        {
            // Its last tree is still stopping (it holds the name, and the rings until its PostStop).
            if (_awaitingStop.Add(id))
                _log.Info("{Vif}: backend directory back while its last tree stops; served once it has stopped", id);
            return;
        }
        var child = Context.ActorOf(VifConnectionActor.Props(new VifPaths(_backendDomId, id), _services), name);
        Context.Watch(child);
        _vifs[id] = child;
        _byActor[child] = id;
        if (!_handles.TryGetValue(id.DomId, out var handles))
            _handles.Add(id.DomId, handles = []);
        handles.Add(id.Handle);
        _log.Info("{Vif}: new backend directory", id);
    }

    private void StopVif(VifId id, string why)
    {
        if (!_vifs.Remove(id, out var child))
            return;
        Untrack(id);
        _byActor.Remove(child);
        _stopping[child] = id;
        Context.Stop(child);
        _services.Status.Remove(id);
        // The vif is gone for good (not a daemon that stops): its TAP goes with its actor (--switch tap).
        if (_services.Options.Switch == SwitchMode.Tap)
            _services.Taps?.DeleteWhenStopped(id);
        _log.Info("{Vif}: {Why}", id, why);
        Attached(id);
    }

    private void Attached(VifId id)
    {
        if (_attaching?.Remove(id) == true)
            OpenRingsWhenAttached();
    }

    private void OpenRingsWhenAttached()
    {
        if (_attaching is not { Count: 0 })
            return;
        _attaching = null;
        _services.RingGate.Open();
        foreach (var child in _vifs.Values)
            child.Tell(VifProtocol.KickRings.Instance);
        _log.Info("every vif found at start has re-attached: rings running");
    }

    /// <summary>
    /// --switch tap, before any vif is served: persistent TAPs of ours that no backend directory claims
    /// belong to vifs that went while we were down.
    /// </summary>
    private async Task SweepStaleTapsAsync()
    {
        try
        {
            var (deleted, failures) = await StaleTapSweeper.SweepAsync(_services.XenStore, _backendDomId, _services.TapHost);
            foreach (var name in deleted)
                _log.Info("deleted stale TAP {Tap}: ours, and no backend directory claims it", name);
            foreach (var failure in failures)
                _log.Warning("could not delete stale TAP {Failure}", failure);
        }
        catch (Exception ex) when (ex is IOException or XenStoreErrorException or UnauthorizedAccessException)
        {
            _log.Warning("could not look for stale TAPs: {Reason}", ex.Message);
        }
    }

    private void OnForgotten(VifProtocol.VifForgotten message)
    {
        // Only the vif's current tree speaks for it. A tree already let go (its directory removed) may
        // still see its frontend vanish and say so; marked forgotten then, a vif whose directory came
        // back meanwhile was never served again (the soak's re-added vif that never reconnected).
        if (!_vifs.TryGetValue(message.Vif, out var current) || !current.Equals(Sender))
            return;
        // Until its directory goes, a forgotten vif is not served again (libxl removes it next).
        _forgotten.Add(message.Vif);
        StopVif(message.Vif, "forgotten");
    }

    private void OnTerminated(Terminated terminated)
    {
        if (_stopping.Remove(terminated.ActorRef, out var stopped))
        {
            // Unless the vif came back meanwhile (a new tree owns the entry then).
            if (!_vifs.ContainsKey(stopped))
                _services.Status.Remove(stopped);
            if (_awaitingStop.Remove(stopped) && !_vifs.ContainsKey(stopped) && !_forgotten.Contains(stopped))
                SpawnVif(stopped);
            TrimWhenIdle();
            return;
        }
        // A vif tree that exhausted its restarts stops; keep its status so the fault stays visible.
        if (_byActor.Remove(terminated.ActorRef, out var id))
        {
            _vifs.Remove(id);
            Untrack(id);
            _forgotten.Add(id);
            Attached(id);
            _log.Error("{Vif}: stopped after repeated failures; it is served again once its backend directory is recreated", id);
            TrimWhenIdle();
        }
    }

    /// <summary>
    /// The last vif's tree has stopped: every packet buffer is back in the pool, and what the pool kept for
    /// reuse, with the garbage collector's free memory, goes back to the host (decision 85). A dom0 whose
    /// guests are gone gets its memory back; the next guest's first frames allocate again.
    /// </summary>
    private void TrimWhenIdle()
    {
        if (_vifs.Count > 0 || _stopping.Count > 0)
            return;
        var bytes = _services.Buffers.Trim();
        // Aggressive: decommit what the heap no longer uses; a blocking collection costs the control path a
        // few milliseconds, with no data path left to notice.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        // The buffers' memory is free in the C heap now; glibc keeps it in its arenas unless asked.
        NativeHeap.GiveBack();
        _log.Info("no vif left: {MiB:F1} MiB of packet buffers and the heap's free memory given back", bytes / 1048576.0);
    }

    private void Untrack(VifId id)
    {
        if (_handles.TryGetValue(id.DomId, out var handles) && handles.Remove(id.Handle) && handles.Count == 0)
            _handles.Remove(id.DomId);
    }
}
