namespace Backend.Host.Fleet;

/// <summary>
/// The body of <c>GET /fleet</c>. With the cluster off, <see cref="Cluster"/> is false and the one member
/// is this host (address <c>local</c>), so a tool reads every daemon the same way. <see cref="Partial"/>:
/// the replicated summaries did not answer in time, so the other members are listed without their vifs.
/// </summary>
public sealed record FleetDocument(bool Cluster, string Self, IReadOnlyList<FleetMemberDocument> Members, bool Partial = false)
{
    public const string LocalAddress = "local";
}
