using Backend.Xen.EventChannels;
using Backend.Xen.Grants;
using Backend.Xen.Platform;
using Backend.Xen.XenStore;

namespace Backend.Actors.Tests.Support;

/// <summary>A platform whose event channels run a guest's reaction inside each notification (<see cref="NotifyHookEventChannels"/>).</summary>
public sealed class NotifyHookPlatform(IXenPlatform inner, Action<uint> beforeNotify) : IXenPlatform
{
    public ushort BackendDomId => inner.BackendDomId;

    public IGrantMapper GrantMapper => inner.GrantMapper;

    public IEventChannels EventChannels { get; } = new NotifyHookEventChannels(inner.EventChannels, beforeNotify);

    public Task<IXenStore> ConnectXenStoreAsync(CancellationToken cancellationToken = default) => inner.ConnectXenStoreAsync(cancellationToken);

    public IGrantCopier CreateGrantCopier() => inner.CreateGrantCopier();

    // The fixture's platform, not ours: the fixture disposes it.
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
