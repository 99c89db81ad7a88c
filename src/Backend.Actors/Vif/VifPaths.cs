namespace Backend.Actors.Vif;

/// <summary>The xenstore paths of one vif, seen from backend domain <see cref="BackendDomId"/>.</summary>
public sealed record VifPaths(ushort BackendDomId, VifId Vif)
{
    public static string BackendVifRoot(ushort backendDomId) => $"/local/domain/{backendDomId}/backend/vif";

    public string BackendDir { get; } = $"{BackendVifRoot(BackendDomId)}/{Vif.DomId}/{Vif.Handle}";

    /// <summary>Where Linux's <c>xenbus_dev_fatal</c> writes the reason a device failed.</summary>
    public string ErrorDir { get; } = $"/local/domain/{BackendDomId}/error/backend/vif/{Vif.DomId}/{Vif.Handle}";

    public string Backend(string key) => $"{BackendDir}/{key}";
}
