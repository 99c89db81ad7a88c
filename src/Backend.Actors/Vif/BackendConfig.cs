using Backend.Actors.Bridge;
using Backend.Xen.XenStore;

namespace Backend.Actors.Vif;

/// <summary>
/// What the toolstack wrote into a vif's backend directory (libxl's keys, SIMXEN "The toolstack's part").
/// Read at every connect, since a toolstack may rewrite them between connections.
/// </summary>
public sealed record BackendConfig(
    string FrontendPath,
    ushort FrontendId,
    MacAddress Mac,
    string Bridge,
    uint? Mtu,
    RateLimit? Rate,
    bool Online)
{
    /// <summary>The highest domid a guest can have (DOMID_FIRST_RESERVED - 1).</summary>
    public const uint MaxDomId = 0x7FEF;

    public static async Task<BackendConfig> ReadAsync(IXenStore xs, VifPaths paths, CancellationToken cancellationToken = default)
    {
        var frontendIdPath = paths.Backend("frontend-id");
        var frontendId = XenStoreValue.ParseUInt(frontendIdPath, await xs.ReadAsync(frontendIdPath, null, cancellationToken), MaxDomId);
        if (frontendId != paths.Vif.DomId)
            throw new VifConfigException(frontendIdPath, frontendId.ToString(System.Globalization.CultureInfo.InvariantCulture), $"does not match the directory's domid {paths.Vif.DomId}");

        var frontendPathKey = paths.Backend("frontend");
        var frontendPath = await xs.ReadAsync(frontendPathKey, null, cancellationToken)
            ?? throw new VifConfigException(frontendPathKey, null, "missing");
        if (!frontendPath.StartsWith('/') || frontendPath.Length > 3072 || frontendPath.EndsWith('/'))
            throw new VifConfigException(frontendPathKey, frontendPath, "not an absolute xenstore path");

        var macPath = paths.Backend("mac");
        var macText = await xs.ReadAsync(macPath, null, cancellationToken);
        if (!MacAddress.TryParse(macText, out var mac))
            throw new VifConfigException(macPath, macText, "not a MAC address (xx:xx:xx:xx:xx:xx)");

        var bridge = await xs.ReadAsync(paths.Backend("bridge"), null, cancellationToken) ?? "";

        var mtuPath = paths.Backend("mtu");
        var mtuText = await xs.ReadAsync(mtuPath, null, cancellationToken);
        uint? mtu = mtuText is null ? null : XenStoreValue.ParseUInt(mtuPath, mtuText, 65535);
        if (mtu is < 68)
            throw new VifConfigException(mtuPath, mtuText, "below the IPv4 minimum of 68");

        var ratePath = paths.Backend("rate");
        var rateText = await xs.ReadAsync(ratePath, null, cancellationToken);
        var rate = rateText is null ? null : RateLimit.Parse(ratePath, rateText);

        var onlinePath = paths.Backend("online");
        var online = XenStoreValue.ParseFlag(onlinePath, await xs.ReadAsync(onlinePath, null, cancellationToken), missing: false);

        return new BackendConfig(frontendPath, (ushort)frontendId, mac, bridge, mtu, rate, online);
    }
}
