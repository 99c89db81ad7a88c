using Backend.Xen.Abi;
using Backend.Xen.XenStore;

namespace Backend.Xen.Xenbus;

/// <summary>
/// What the toolstack wrote into a vif's backend directory (libxl's keys, SIMXEN "The toolstack's part").
/// Read at every connect, since a toolstack may rewrite them between connections. A malformed <c>rate</c>
/// does not fail the vif: as Linux's <c>xen_net_read_rate</c>, the vif runs unlimited
/// (<see cref="Rate"/> null) and the value is kept in <see cref="MalformedRate"/> for the one warning.
/// </summary>
public sealed record BackendConfig(
    string FrontendPath,
    ushort FrontendId,
    MacAddress Mac,
    string Bridge,
    uint? Mtu,
    RateLimit? Rate,
    bool Online,
    string? MalformedRate = null)
{
    /// <summary>The largest MTU either end may name (an IP packet's length field).</summary>
    public const uint MaxMtu = 65535;

    /// <summary>The smallest MTU the toolstack may set (IPv4's minimum).</summary>
    public const uint MinMtu = 68;

    /// <summary>A vif's MTU when neither end names one.</summary>
    public const uint DefaultMtu = 1500;

    public static async Task<BackendConfig> ReadAsync(IXenStore xs, VifPaths paths, CancellationToken cancellationToken = default)
    {
        // All seven keys are asked for at once (pipelined on the connection, one round trip instead of
        // seven), then checked one by one in the order below, so a bad directory reports the same key first.
        var frontendIdPath = paths.Backend("frontend-id");
        var frontendPathKey = paths.Backend("frontend");
        var macPath = paths.Backend("mac");
        var mtuPath = paths.Backend("mtu");
        var ratePath = paths.Backend("rate");
        var onlinePath = paths.Backend("online");
        var frontendIdRead = xs.ReadAsync(frontendIdPath, null, cancellationToken);
        var frontendPathRead = xs.ReadAsync(frontendPathKey, null, cancellationToken);
        var macRead = xs.ReadAsync(macPath, null, cancellationToken);
        var bridgeRead = xs.ReadAsync(paths.Backend("bridge"), null, cancellationToken);
        var mtuRead = xs.ReadAsync(mtuPath, null, cancellationToken);
        var rateRead = xs.ReadAsync(ratePath, null, cancellationToken);
        var onlineRead = xs.ReadAsync(onlinePath, null, cancellationToken);
        await Task.WhenAll(frontendIdRead, frontendPathRead, macRead, bridgeRead, mtuRead, rateRead, onlineRead);

        var frontendId = XenStoreValue.ParseUInt(frontendIdPath, frontendIdRead.Result, DomId.Max);
        if (frontendId != paths.Vif.DomId)
            throw new VifConfigException(frontendIdPath, frontendId.ToString(System.Globalization.CultureInfo.InvariantCulture), $"does not match the directory's domid {paths.Vif.DomId}");

        var frontendPath = frontendPathRead.Result
            ?? throw new VifConfigException(frontendPathKey, null, "missing");
        // A path xenstore itself would refuse (a control character, "//") is this key's fault, not a xenstore
        // error at the frontend's first read that prints the path as it is.
        if (!XenStorePath.IsValid(frontendPath, allowSpecial: false) || frontendPath == "/")
            throw new VifConfigException(frontendPathKey, frontendPath, "not an absolute xenstore path");

        var macText = macRead.Result;
        if (!MacAddress.TryParse(macText, out var mac))
            throw new VifConfigException(macPath, macText, "not a MAC address (xx:xx:xx:xx:xx:xx)");

        var bridge = bridgeRead.Result ?? "";

        var mtuText = mtuRead.Result;
        uint? mtu = mtuText is null ? null : XenStoreValue.ParseUInt(mtuPath, mtuText, MaxMtu);
        if (mtu is < MinMtu)
            throw new VifConfigException(mtuPath, mtuText, $"below the IPv4 minimum of {MinMtu}");

        var (rate, malformedRate) = ReadRate(rateRead.Result);

        var online = XenStoreValue.ParseFlag(onlinePath, onlineRead.Result, missing: false);

        return new BackendConfig(frontendPath, (ushort)frontendId, mac, bridge, mtu, rate, online, malformedRate);
    }

    /// <summary>
    /// The <c>rate</c> node's value as Linux's <c>xen_net_read_rate</c> takes it: none means unlimited, and so
    /// does a malformed one, which is returned as the second item (to be warned about, not to fail the vif).
    /// </summary>
    public static (RateLimit? Rate, string? Malformed) ReadRate(string? text)
    {
        if (text is null)
            return (null, null);
        return RateLimit.TryParse(text, out var rate, out _) ? (rate, null) : (null, text);
    }
}
