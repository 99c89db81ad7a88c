using Backend.Xen.Abi;

namespace Backend.Xen.Xenbus;

/// <summary>
/// The xenstore paths of one vif, seen from backend domain <see cref="BackendDomId"/>, and the parsing of
/// the paths under <c>backend/vif</c> that a watch reports or a directory lists (Linux's
/// <c>xenbus_probe_backend</c>: <c>backend/vif/&lt;domid&gt;/&lt;handle&gt;</c>). A frontend domain can
/// create nodes there only through the toolstack, but a path is parsed as strictly as any value.
/// </summary>
public sealed record VifPaths(ushort BackendDomId, VifId Vif)
{
    public static string BackendVifRoot(ushort backendDomId) => $"/local/domain/{backendDomId}/backend/vif";

    public string BackendDir { get; } = $"{BackendVifRoot(BackendDomId)}/{Vif.DomId}/{Vif.Handle}";

    /// <summary>Where Linux's <c>xenbus_dev_fatal</c> writes the reason a device failed.</summary>
    public string ErrorDir { get; } = $"/local/domain/{BackendDomId}/error/backend/vif/{Vif.DomId}/{Vif.Handle}";

    public string Backend(string key) => $"{BackendDir}/{key}";

    /// <summary>A frontend domain's id as a directory under <c>backend/vif</c> names it: a domain, not a reserved id.</summary>
    public static bool TryParseDomId(ReadOnlySpan<char> text, out ushort domid)
    {
        domid = 0;
        if (!XenStoreValue.TryParseUInt(text, out var value) || !DomId.IsDomain(value))
            return false;
        domid = (ushort)value;
        return true;
    }

    /// <summary>A vif's handle as a directory under <c>backend/vif/&lt;domid&gt;</c> names it.</summary>
    public static bool TryParseHandle(ReadOnlySpan<char> text, out uint handle) => XenStoreValue.TryParseUInt(text, out handle);

    /// <summary>
    /// What a watch event's <paramref name="path"/> says about the vifs under <paramref name="root"/>
    /// (<see cref="BackendVifRoot"/>): the root itself or a path outside it, one domain's directory, a
    /// vif's directory, a node inside a vif's directory, or a name that is no domain or handle.
    /// </summary>
    public static VifWatchPath ParseWatchPath(string root, string path)
    {
        if (path.Length <= root.Length || !path.StartsWith(root, StringComparison.Ordinal) || path[root.Length] != '/')
            return new VifWatchPath(VifWatchPathKind.Root, default);
        var rest = path.AsSpan(root.Length + 1);
        var slash = rest.IndexOf('/');
        if (!TryParseDomId(slash < 0 ? rest : rest[..slash], out var domid))
            return new VifWatchPath(VifWatchPathKind.Ignored, default);
        if (slash < 0)
            return new VifWatchPath(VifWatchPathKind.Domain, new VifId(domid, 0));
        rest = rest[(slash + 1)..];
        slash = rest.IndexOf('/');
        if (!TryParseHandle(slash < 0 ? rest : rest[..slash], out var handle))
            return new VifWatchPath(VifWatchPathKind.Ignored, default);
        return new VifWatchPath(slash < 0 ? VifWatchPathKind.VifDirectory : VifWatchPathKind.VifNode, new VifId(domid, handle));
    }
}
