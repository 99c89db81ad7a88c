using Backend.Xen.Abi;
using Backend.Xen.EventChannels;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// The backend's event channels under SIMXEN: interdomain binds to ports a guest allocated, local ports
/// 1..4095, notifications and one receive loop for all ports. Does not own the domain.
/// </summary>
public sealed class SimEventChannels : IEventChannels
{
    private readonly SimEventChannelCore _core;
    private readonly SimDomain _domain;
    private readonly bool[] _used = new bool[SimRoot.EventChannelPorts];
    // Per local port, the bound guest's target, held while bound: the backend's cache keeps none itself.
    private readonly SimNotifyTarget?[] _boundTargets = new SimNotifyTarget?[SimRoot.EventChannelPorts];
    private readonly Lock _gate = new();
    private uint _nextPort = 1;

    public SimEventChannels(SimDomain backend)
    {
        _domain = backend;
        _core = new SimEventChannelCore(backend, dedicatedThread: true, keepTargets: false);
    }

    public SimEventChannelCounters Counters => _core.Counters;

    /// <summary>The receive loop: completes after <see cref="Dispose"/>; a fault here means no more events.</summary>
    public Task ReceiveLoop => _core.ReceiveLoop;

    /// <summary>
    /// Binds local port L to (guest G, port P): our entry L = {G, 1, P} first, then the guest's entry
    /// P = {B, 1, L} whatever it held (after our restart it still names the old port).
    /// </summary>
    public uint BindInterdomain(ushort remoteDomain, uint remotePort, IEventChannelHandler handler) =>
        Bind(remoteDomain, remotePort, handler, lateEoi: false);

    public uint BindInterdomainLateEoi(ushort remoteDomain, uint remotePort, IEventChannelHandler handler) =>
        Bind(remoteDomain, remotePort, handler, lateEoi: true);

    public void LateEoi(uint localPort, IEventChannelHandler handler) => _core.LateEoi(localPort, handler);

    private uint Bind(ushort remoteDomain, uint remotePort, IEventChannelHandler handler, bool lateEoi)
    {
        ArgumentNullException.ThrowIfNull(handler);
        // Both come from the frontend's keys: refused as Xen refuses them (-EINVAL), never as a bug of ours.
        if (remotePort == 0 || remotePort >= SimRoot.EventChannelPorts)
            throw new EventChannelBindException(remoteDomain, remotePort, "SIMXEN event channel ports are 1 to 4095");
        if (remoteDomain >= DomId.FirstReserved)
            throw new EventChannelBindException(remoteDomain, remotePort, $"domain ids are below {DomId.FirstReserved}");
        var peersFile = SimMappedFile.TryOpen(_domain.Root.DomainFile(remoteDomain, SimRoot.EventChannelPeersFile), SimEventChannelPeers.FileSize, wholePages: false, keepDescriptor: false)
            ?? throw new IOException($"domain {remoteDomain} has no {SimRoot.EventChannelPeersFile}: it is not there");
        // A guest that started afresh has new files: look again before we notify it on this binding.
        var target = _core.Targets.Acquire(remoteDomain, revalidate: true);
        try
        {
            var local = AllocatePort();
            Volatile.Write(ref _boundTargets[local], target);
            target = null;
            _core.SetHandler(local, handler, lateEoi);
            _domain.Peers.Write(local, SimEventChannelEntry.Interdomain(remoteDomain, remotePort));
            new SimEventChannelPeers(peersFile).Write(remotePort, SimEventChannelEntry.Interdomain(_domain.DomId, local));
            return local;
        }
        finally
        {
            target?.Release();
            peersFile.Release();
        }
    }

    /// <summary>
    /// Writes {0, 0, 0} into our entry, and compare-and-swaps the guest's entry from {B, 1, L} to
    /// {B, 0, 0}, so that a newer binding is never undone. Unbinding a port that is not bound does nothing.
    /// </summary>
    public void Unbind(uint localPort)
    {
        if (localPort == 0 || localPort >= SimRoot.EventChannelPorts)
            return;
        lock (_gate)
        {
            if (!_used[localPort])
                return;
        }
        var own = _domain.Peers.Exchange(localPort, default);
        _core.SetHandler(localPort, null);
        if (own.IsInterdomain && own.PeerPort != 0 && own.PeerPort < SimRoot.EventChannelPorts)
        {
            var peersFile = SimMappedFile.TryOpen(_domain.Root.DomainFile(own.PeerDomId, SimRoot.EventChannelPeersFile), SimEventChannelPeers.FileSize, wholePages: false, keepDescriptor: false);
            if (peersFile is not null)
            {
                new SimEventChannelPeers(peersFile).CompareExchange(
                    own.PeerPort,
                    SimEventChannelEntry.Interdomain(_domain.DomId, localPort),
                    SimEventChannelEntry.Unbound(_domain.DomId));
                peersFile.Release();
            }
        }
        // Our entry no longer names the guest, so no new notification takes its target; one in flight holds its own.
        Interlocked.Exchange(ref _boundTargets[localPort], null)?.Release();
        lock (_gate)
            _used[localPort] = false;
    }

    public void Notify(uint localPort) => _core.Notify(localPort, revalidatePeer: false);

    public void Dispose()
    {
        _core.Dispose();
        for (var port = 1; port < _boundTargets.Length; port++)
            Interlocked.Exchange(ref _boundTargets[port], null)?.Release();
    }

    private uint AllocatePort()
    {
        lock (_gate)
        {
            // Round-robin, so that a port just unbound is not handed out again at once.
            for (var i = 0; i < SimRoot.EventChannelPorts - 1; i++)
            {
                var port = _nextPort;
                _nextPort = port == SimRoot.EventChannelPorts - 1 ? 1 : port + 1;
                if (!_used[port])
                {
                    _used[port] = true;
                    return port;
                }
            }
        }
        throw new InvalidOperationException("all 4095 local event channel ports are bound");
    }
}
