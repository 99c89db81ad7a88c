using Backend.Xen.Abi;
using Backend.Xen.XenStore;

namespace Backend.Xen.Xenbus;

/// <summary>
/// The backend's own domain, as xenstore knows it: the toolstack writes <c>/local/domain/&lt;D&gt;/domid</c>
/// for every domain (dom0's by xenstored's init), and a domain reads it by the relative path <c>domid</c>,
/// as <c>xenstore-read domid</c> does in a driver domain. So the daemon needs no <c>--domid</c> on real Xen.
/// </summary>
public static class BackendDomain
{
    /// <summary>The key, relative to the domain's own directory.</summary>
    public const string DomIdKey = "domid";

    /// <summary>Reads <c>domid</c> relative to the connection's domain.</summary>
    /// <exception cref="VifConfigException">The key is missing or not a domain id.</exception>
    public static async Task<ushort> ReadOwnDomIdAsync(XenStoreClient xenStore, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(xenStore);
        var text = await xenStore.ReadRelativeAsync(DomIdKey, cancellationToken).ConfigureAwait(false);
        return (ushort)XenStoreValue.ParseUInt(DomIdKey, text, DomId.Max);
    }
}
