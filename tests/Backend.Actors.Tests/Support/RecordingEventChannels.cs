using System.Collections.Concurrent;
using Backend.Xen.EventChannels;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// Event channels that only record what the backend asks of them (late EOIs, notifications), for tests
/// that drive a <see cref="Vif.RingEventHandler"/> or a ring actor by hand; nothing is bound here.
/// </summary>
public sealed class RecordingEventChannels : IEventChannels
{
    private readonly ConcurrentQueue<uint> _lateEois = new();
    private int _notifications;

    public int LateEoiCount => _lateEois.Count;

    public int Notifications => Volatile.Read(ref _notifications);

    public IReadOnlyList<uint> LateEois => [.. _lateEois];

    public uint BindInterdomain(ushort remoteDomain, uint remotePort, IEventChannelHandler handler) =>
        throw new NotSupportedException("nothing is bound in a recording");

    public uint BindInterdomainLateEoi(ushort remoteDomain, uint remotePort, IEventChannelHandler handler) =>
        throw new NotSupportedException("nothing is bound in a recording");

    public void LateEoi(uint localPort, IEventChannelHandler handler) => _lateEois.Enqueue(localPort);

    public void Unbind(uint localPort)
    {
    }

    public void Notify(uint localPort) => Interlocked.Increment(ref _notifications);

    public void Dispose()
    {
    }
}
