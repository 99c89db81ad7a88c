using System.Globalization;
using Backend.Xen.Abi;

namespace Backend.Xen.Platform.Sim.Toolstack;

/// <summary>
/// What a toolstack knows of a vif before it writes it (libxl's <c>libxl_device_nic</c>, the fields
/// SIMXEN uses). Validated by <see cref="Validate"/> before anything is written.
/// </summary>
public sealed record SimVifSpec
{
    public const int DefaultMtu = 1500;
    public const string DefaultBridge = "xenbr0";
    public const string DefaultScript = "/etc/xen/scripts/vif-bridge";

    /// <summary>The guest (frontend) domain, G.</summary>
    public required ushort GuestDomId { get; init; }

    /// <summary>The device handle, H (the N of the guest's ethN / vif G.N).</summary>
    public required int Handle { get; init; }

    /// <summary>"xx:xx:xx:xx:xx:xx", hexadecimal, as libxl writes it.</summary>
    public required string Mac { get; init; }

    /// <summary>The backend domain, B.</summary>
    public ushort BackendDomId { get; init; }

    public string Bridge { get; init; } = DefaultBridge;

    /// <summary>Written to the backend only when it is not 1500, as libxl; always to the frontend.</summary>
    public int Mtu { get; init; } = DefaultMtu;

    public SimVifRate? Rate { get; init; }

    public string Script { get; init; } = DefaultScript;

    /// <summary>Throws <see cref="ArgumentException"/> naming the field that is wrong.</summary>
    public void Validate()
    {
        if (GuestDomId >= DomId.FirstReserved)
            throw new ArgumentException($"{nameof(GuestDomId)} {GuestDomId} is not a domain id (below {DomId.FirstReserved})");
        if (BackendDomId >= DomId.FirstReserved)
            throw new ArgumentException($"{nameof(BackendDomId)} {BackendDomId} is not a domain id (below {DomId.FirstReserved})");
        if (GuestDomId == BackendDomId)
            throw new ArgumentException($"{nameof(GuestDomId)} and {nameof(BackendDomId)} are both {GuestDomId}: a vif joins two domains");
        if (Handle < 0)
            throw new ArgumentException($"{nameof(Handle)} {Handle} is negative");
        if (!MacAddress.TryParse(Mac, out _))
            throw new ArgumentException($"{nameof(Mac)} \"{Mac}\" is not xx:xx:xx:xx:xx:xx");
        if (string.IsNullOrEmpty(Bridge) || Bridge.Contains('/', StringComparison.Ordinal))
            throw new ArgumentException($"{nameof(Bridge)} \"{Bridge}\" must be a non-empty name without '/'");
        // 68 is IPv4's minimum; 65521 + 14 is the largest frame a TX chain can describe (XEN_NETIF_MAX_TX_SIZE).
        if (Mtu is < 68 or > 65521)
            throw new ArgumentException($"{nameof(Mtu)} {Mtu} is outside 68..65521");
        Rate?.ToXenStoreValue();
    }

    internal string MtuText => Mtu.ToString(CultureInfo.InvariantCulture);
}
