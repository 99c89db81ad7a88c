using Backend.Xen.EventChannels;
using Backend.Xen.Grants;
using Backend.Xen.XenStore;

namespace Backend.Xen.Platform;

/// <summary>
/// What a backend needs from Xen, whichever Xen it is: the real Linux <c>/dev/xen</c> devices, or
/// simulated Xen (SIMXEN.md). Code above this never knows which one it has.
/// </summary>
public interface IXenPlatform : IAsyncDisposable
{
    /// <summary>The domain the backend runs in (0 for dom0, or a driver domain's id).</summary>
    ushort BackendDomId { get; }

    /// <summary>Opens a new xenstore connection.</summary>
    Task<IXenStore> ConnectXenStoreAsync(CancellationToken cancellationToken = default);

    IGrantMapper GrantMapper { get; }

    /// <summary>A new copier; each lane's hypercall actor owns one (the real one holds its own gntdev fd).</summary>
    IGrantCopier CreateGrantCopier();

    IEventChannels EventChannels { get; }
}
