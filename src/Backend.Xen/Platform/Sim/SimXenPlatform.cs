using Backend.Xen.EventChannels;
using Backend.Xen.Grants;
using Backend.Xen.XenStore;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Xen simulated by SIMXEN.md: the backend domain's files under the sim root, grant copies and maps over
/// the guests' files, event channels over the bitmaps and sockets. Xenstore comes from the connector
/// given here (the embedded server or any xs_wire socket).
/// </summary>
public sealed class SimXenPlatform : IXenPlatform
{
    private readonly Func<CancellationToken, Task<IXenStore>> _connectXenStore;
    private readonly SimForeignDomains _foreignDomains;
    private readonly SimEventChannels _eventChannels;
    private readonly SimGrantMapper _grantMapper;
    private bool _disposed;

    /// <summary>Becomes backend domain <paramref name="backendDomId"/> under <paramref name="root"/>.</summary>
    public SimXenPlatform(SimRoot root, ushort backendDomId, Func<CancellationToken, Task<IXenStore>> connectXenStore)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(connectXenStore);
        _connectXenStore = connectXenStore;
        Domain = SimDomain.CreateBackend(root, backendDomId);
        _foreignDomains = new SimForeignDomains(root);
        _grantMapper = new SimGrantMapper(_foreignDomains, backendDomId);
        _eventChannels = new SimEventChannels(Domain);
    }

    public SimRoot Root => Domain.Root;

    /// <summary>The backend domain's own files.</summary>
    public SimDomain Domain { get; }

    public ushort BackendDomId => Domain.DomId;

    public IGrantMapper GrantMapper => _grantMapper;

    public IEventChannels EventChannels => _eventChannels;

    public Task<IXenStore> ConnectXenStoreAsync(CancellationToken cancellationToken = default) => _connectXenStore(cancellationToken);

    public IGrantCopier CreateGrantCopier() => new SimGrantCopier(_foreignDomains, Domain.DomId);

    public ValueTask DisposeAsync()
    {
        if (_disposed)
            return ValueTask.CompletedTask;
        _disposed = true;
        _eventChannels.Dispose();
        _foreignDomains.Dispose();
        Domain.Dispose();
        return ValueTask.CompletedTask;
    }
}
