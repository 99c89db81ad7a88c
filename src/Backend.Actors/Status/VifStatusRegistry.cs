using System.Collections.Concurrent;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Status;

/// <summary>Every vif the daemon serves, with its <see cref="VifStatus"/>; read by the admin endpoint.</summary>
public sealed class VifStatusRegistry(TimeProvider? time = null)
{
    private readonly ConcurrentDictionary<VifId, VifStatus> _vifs = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public long DisabledTotal;

    /// <summary>Frames dropped because the actor they were sent to had stopped (FrameBatchReclaimer).</summary>
    public long FramesDeadLettered;

    public VifStatus GetOrAdd(VifId id) => _vifs.GetOrAdd(id, static (i, time) => new VifStatus(i, time), _time);

    public void Remove(VifId id) => _vifs.TryRemove(id, out _);

    public IReadOnlyList<VifStatus> Snapshot()
    {
        var list = _vifs.Values.ToList();
        list.Sort(static (a, b) => a.Id.DomId != b.Id.DomId ? a.Id.DomId.CompareTo(b.Id.DomId) : a.Id.Handle.CompareTo(b.Id.Handle));
        return list;
    }
}
