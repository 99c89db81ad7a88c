using Backend.Host.Admin;

namespace Backend.Host.Fleet;

/// <summary>One vif of a host in the fleet: what an admin scans a fleet for (the full detail stays in that host's <c>/status</c>).</summary>
public sealed record FleetVifDocument(
    string Name, ushort DomId, uint Handle, string State, bool Disabled, bool Carrier, long Faults, long Restarts, VifCountersDocument Counters)
{
    public static FleetVifDocument From(VifStatusDocument v) =>
        new(v.Name, v.DomId, v.Handle, v.State, v.Disabled, v.Carrier, v.Faults, v.Restarts, v.Counters);
}
