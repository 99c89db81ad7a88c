using Backend.Actors.Status;

namespace Backend.Host.Admin;

/// <summary>
/// The JSON body of <c>GET /status</c>: one entry per vif, taken from <see cref="VifStatusRegistry"/>, and the
/// daemon-wide counts: vifs disabled, and frames dropped because the actor they were sent to had stopped.
/// </summary>
public sealed record StatusDocument(
    string Platform, ushort BackendDomId, long VifsDisabled, long FramesDeadLettered, IReadOnlyList<VifStatusDocument> Vifs, IReadOnlyList<UplinkStatusDocument> Uplinks)
{
    public static StatusDocument From(string platform, ushort backendDomId, VifStatusRegistry registry, IReadOnlyList<UplinkStatusDocument> uplinks)
    {
        var vifs = new List<VifStatusDocument>();
        foreach (var v in registry.Snapshot())
            vifs.Add(VifStatusDocument.From(v));
        return new StatusDocument(platform, backendDomId, Interlocked.Read(ref registry.DisabledTotal), Interlocked.Read(ref registry.FramesDeadLettered), vifs, uplinks);
    }
}
