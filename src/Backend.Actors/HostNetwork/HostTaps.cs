using System.Collections.Concurrent;
using Akka.Actor;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Xenbus;

namespace Backend.Actors.HostNetwork;

/// <summary>
/// The daemon's TAP devices as a service the actors share: one <see cref="TapPoller"/> thread reads them
/// all, and a TAP whose reading fails is reported to the actor that registered it. It also remembers
/// which vifs' devices are to be deleted when their actor stops (the vif was removed or forgotten), as
/// opposed to a daemon that stops and leaves its persistent devices for the next run.
/// </summary>
public sealed class HostTaps : IDisposable
{
    private readonly TapPoller _poller;
    private readonly ConcurrentDictionary<TapDevice, IActorRef> _owners = new();
    private readonly ConcurrentDictionary<VifId, bool> _toDelete = new();

    public HostTaps() =>
        _poller = new TapPoller((tap, e) =>
        {
            if (_owners.TryRemove(tap, out var owner))
                owner.Tell(new TapFaulted(tap.Name, e.Message));
        });

    /// <summary>Starts reading <paramref name="tap"/> into <paramref name="reader"/>; a failure is told to <paramref name="owner"/>.</summary>
    public void Read(TapDevice tap, TapFrameReader reader, IActorRef owner)
    {
        _owners[tap] = owner;
        _poller.Add(tap, reader);
    }

    /// <summary>Stops reading <paramref name="tap"/>; when this returns its reader is not running.</summary>
    public void StopReading(TapDevice tap)
    {
        _owners.TryRemove(tap, out _);
        _poller.Remove(tap);
    }

    /// <summary>The vif is gone for good: its actor deletes the device when it stops.</summary>
    public void DeleteWhenStopped(VifId vif) => _toDelete[vif] = true;

    /// <summary>Whether the vif's device is to be deleted (and forgets the request).</summary>
    public bool TakeDeletion(VifId vif) => _toDelete.TryRemove(vif, out _);

    public void Dispose() => _poller.Dispose();

    /// <summary>Told to a TAP's owner when reading it failed (the device was deleted under us, for one).</summary>
    public sealed record TapFaulted(string Device, string Reason);
}
