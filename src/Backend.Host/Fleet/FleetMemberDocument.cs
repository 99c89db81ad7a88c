namespace Backend.Host.Fleet;

/// <summary>
/// One member of the fleet in <c>GET /fleet</c>: its cluster address, its status and reachability as this
/// node's Akka.Cluster sees them, and its last published summary (null until one has arrived).
/// </summary>
public sealed record FleetMemberDocument(string Address, string Status, bool Reachable, bool Self, bool Leader, FleetHostDocument? Host);
