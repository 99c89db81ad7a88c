using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// What a notification to domain D' needs: D''s <c>evtchn-pending</c> mapped, and the address of its
/// <c>evtchn</c> socket built once. Reference counted through the mapping.
/// </summary>
internal sealed class SimNotifyTarget(ushort domid, SimEventChannelPending pending, SimSocketAddress address)
{
    public ushort DomId { get; } = domid;

    public SimEventChannelPending Pending { get; } = pending;

    public SimSocketAddress Address { get; } = address;

    public FileIdentity Identity => Pending.File.Identity;

    public bool TryAddReference() => Pending.File.TryAddReference();

    public void Release() => Pending.File.Release();
}
