using Backend.Xen.Netback;

namespace Backend.Host.Admin;

/// <summary>
/// A vif's multicast filter in <c>GET /status</c>: whether its frontend asked for multicast control
/// (<c>request-multicast-control</c>, as last sampled), how many addresses its list holds (at most 64,
/// duplicates included, as Linux counts them), and whether it accepts every multicast frame whatever the
/// list (an add was refused for lack of room, or the list was lost when the daemon started again under it).
/// </summary>
public sealed record VifMulticastDocument(bool Control, int Addresses, bool AcceptsAll)
{
    public static VifMulticastDocument From(MulticastFilter filter) => new(filter.Control, filter.Count, filter.AcceptsAll);
}
