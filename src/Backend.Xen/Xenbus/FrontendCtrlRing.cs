using Backend.Xen.XenStore;

namespace Backend.Xen.Xenbus;

/// <summary>
/// The frontend's control ring (netif.h: <c>ctrl-ring-ref</c>, <c>event-channel-ctrl</c>), read at connect
/// as Linux netback's <c>connect_ctrl_ring</c> reads it, and only when netback offers <c>feature-ctrl-ring</c>.
/// </summary>
public sealed record FrontendCtrlRing(uint RingRef, uint EventChannel)
{
    public const string RingRefKey = "ctrl-ring-ref";
    public const string EventChannelKey = "event-channel-ctrl";

    /// <summary>
    /// Null when the frontend has no control ring: no <c>ctrl-ring-ref</c>, or one that is not a number
    /// (Linux's <c>xenbus_scanf("%u")</c> fails and netback goes on without a ctrl ring). With a ring, a
    /// missing or malformed <c>event-channel-ctrl</c>, or port 0, fails the connection
    /// (<see cref="VifConfigException"/>), as Linux's <c>xenbus_dev_fatal</c> there.
    /// </summary>
    public static async Task<FrontendCtrlRing?> ReadAsync(IXenStore xs, string frontendPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(xs);
        var refRead = xs.ReadAsync($"{frontendPath}/{RingRefKey}", null, cancellationToken);
        var portRead = xs.ReadAsync($"{frontendPath}/{EventChannelKey}", null, cancellationToken);
        await Task.WhenAll(refRead, portRead);
        return Parse(frontendPath, refRead.Result, portRead.Result);
    }

    /// <summary>The two values as <see cref="ReadAsync"/> reads them (null: no key).</summary>
    public static FrontendCtrlRing? Parse(string frontendPath, string? ringRef, string? eventChannel)
    {
        if (ringRef is null || !XenStoreValue.TryParseUInt(ringRef, out var gref))
            return null;
        var path = $"{frontendPath}/{EventChannelKey}";
        var port = XenStoreValue.ParseUInt(path, eventChannel, FrontendConfig.MaxPort);
        if (port == 0)
            throw new VifConfigException(path, eventChannel, "port 0 is invalid");
        return new FrontendCtrlRing(gref, port);
    }
}
