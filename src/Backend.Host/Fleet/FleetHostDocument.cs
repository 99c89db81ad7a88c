using Backend.Host.Admin;

namespace Backend.Host.Fleet;

/// <summary>
/// A host's summary as it publishes it into the fleet's replicated data (as JSON, once a second): its name,
/// backend domain, version and vifs, and when it was taken (a stale one tells of a publisher that stopped).
/// </summary>
public sealed record FleetHostDocument(
    string Hostname, ushort BackendDomId, string Version, string Platform, DateTimeOffset Published, long VifsDisabled, IReadOnlyList<FleetVifDocument> Vifs)
{
    public static FleetHostDocument From(string hostname, string version, StatusDocument status, DateTimeOffset now)
    {
        var vifs = new FleetVifDocument[status.Vifs.Count];
        for (var i = 0; i < vifs.Length; i++)
            vifs[i] = FleetVifDocument.From(status.Vifs[i]);
        return new FleetHostDocument(hostname, status.BackendDomId, version, status.Platform, now, status.VifsDisabled, vifs);
    }
}
