using Backend.Xen.Xenbus;

namespace Backend.Actors.Rings;

/// <summary>What the RX ring actor needs to know of its frontend, fixed for one connection.</summary>
public sealed record RxRingSettings(ushort FrontendDomId, int Mtu, FrontendConfig Frontend);
