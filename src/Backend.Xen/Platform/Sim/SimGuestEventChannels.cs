using Backend.Xen.EventChannels;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// A simulated guest's event channels: it allocates unbound ports for the backend to bind, notifies
/// through them (reading its entry at every notification: the backend's port may change when it
/// re-binds), and receives on one loop. Does not own the domain.
/// </summary>
public sealed class SimGuestEventChannels : IDisposable
{
    private readonly SimEventChannelCore _core;
    private readonly SimDomain _domain;
    private readonly bool[] _used = new bool[SimRoot.EventChannelPorts];
    private readonly Lock _gate = new();

    public SimGuestEventChannels(SimDomain guest)
    {
        _domain = guest;
        _core = new SimEventChannelCore(guest);
    }

    public SimEventChannelCounters Counters => _core.Counters;

    /// <summary>The receive loop: completes after <see cref="Dispose"/>; a fault here means no more events.</summary>
    public Task ReceiveLoop => _core.ReceiveLoop;

    /// <summary>Allocates a free port for <paramref name="remoteDomain"/> to bind: entry P = {B, 0, 0}.</summary>
    public uint AllocateUnbound(ushort remoteDomain, IEventChannelHandler handler)
    {
        lock (_gate)
        {
            for (uint port = 1; port < SimRoot.EventChannelPorts; port++)
            {
                if (!_used[port])
                    return AllocateUnboundLocked(port, remoteDomain, handler);
            }
        }
        throw new InvalidOperationException("all 4095 event channel ports of this guest are in use");
    }

    /// <summary>Allocates the port of the guest's own choice.</summary>
    public uint AllocateUnbound(uint port, ushort remoteDomain, IEventChannelHandler handler)
    {
        if (port == 0 || port >= SimRoot.EventChannelPorts)
            throw new ArgumentOutOfRangeException(nameof(port), port, "event channel ports are 1 to 4095");
        lock (_gate)
        {
            if (_used[port])
                throw new InvalidOperationException($"event channel port {port} is already allocated");
            return AllocateUnboundLocked(port, remoteDomain, handler);
        }
    }

    /// <summary>Closes a port: entry {0, 0, 0}, no more events delivered.</summary>
    public void Close(uint port)
    {
        if (port == 0 || port >= SimRoot.EventChannelPorts)
            return;
        lock (_gate)
        {
            _domain.Peers.Write(port, default);
            _core.SetHandler(port, null);
            _used[port] = false;
        }
    }

    public void Notify(uint port) => _core.Notify(port, revalidatePeer: true);

    public void Dispose() => _core.Dispose();

    private uint AllocateUnboundLocked(uint port, ushort remoteDomain, IEventChannelHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _used[port] = true;
        _core.SetHandler(port, handler);
        _domain.Peers.Write(port, SimEventChannelEntry.Unbound(remoteDomain));
        return port;
    }
}
