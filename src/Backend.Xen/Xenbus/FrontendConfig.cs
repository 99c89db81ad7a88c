using Backend.Xen.Abi;
using Backend.Xen.XenStore;

namespace Backend.Xen.Xenbus;

/// <summary>
/// The keys a netfront writes before it goes Connected. Every one is guest-controlled: each is parsed
/// strictly, and a bad one fails this vif's connection (xenbus error node, state Closing), nothing else;
/// <c>xdp-headroom</c> alone is read as Linux reads it (<see cref="ParseXdpHeadroom"/>), never refused.
/// </summary>
/// <param name="XdpHeadroom">
/// The frontend's <c>xdp-headroom</c>, read at connect and again at Reconfiguring (Linux's
/// <c>read_xenbus_frontend_xdp</c>, from <c>read_xenbus_vif_flags</c> and <c>frontend_changed</c>).
/// </param>
/// <param name="RequestMulticastControl">
/// The frontend's <c>request-multicast-control</c> as sampled at connect (Linux's <c>connect</c>); the
/// backend watches it afterwards (<c>feature-dynamic-multicast-control</c>), read as Linux reads it
/// (<see cref="ParseMulticastControl"/>), never refused.
/// </param>
public sealed record FrontendConfig(
    uint TxRingRef,
    uint RxRingRef,
    uint TxEventChannel,
    uint RxEventChannel,
    bool SplitEventChannels,
    bool RxNotify,
    bool ScatterGather,
    bool GsoTcpV4,
    bool GsoTcpV6,
    bool Ipv4ChecksumOffload,
    bool Ipv6ChecksumOffload,
    ushort XdpHeadroom = 0,
    bool RequestMulticastControl = false)
{
    /// <summary>Event channel ports above this exist on no Xen (the FIFO ABI's limit is 2^17).</summary>
    public const uint MaxPort = (1u << 17) - 1;

    /// <summary>The frontend takes GSO frames of some kind: frames to it may be up to 64 KiB whatever its MTU.</summary>
    public bool TakesGso => GsoTcpV4 || GsoTcpV6;

    public static async Task<FrontendConfig> ReadAsync(IXenStore xs, string frontendPath, CancellationToken cancellationToken = default)
    {
        string P(string key) => $"{frontendPath}/{key}";

        // Every key is asked for at once (pipelined on the connection, one round trip instead of a dozen),
        // then parsed in the order below, so a bad frontend reports the same key first.
        var keys = new Dictionary<string, Task<string?>>(Keys.Length, StringComparer.Ordinal);
        foreach (var key in Keys)
            keys.Add(key, xs.ReadAsync(P(key), null, cancellationToken));
        await Task.WhenAll(keys.Values);
        string? Value(string key) => keys[key].Result;

        var queues = Value("multi-queue-num-queues");
        if (queues is not null && XenStoreValue.ParseUInt(P("multi-queue-num-queues"), queues) != 1)
            throw new VifConfigException(P("multi-queue-num-queues"), queues, "multi-queue is not offered by this backend");

        var tx = XenStoreValue.ParseUInt(P("tx-ring-ref"), Value("tx-ring-ref"));
        var rx = XenStoreValue.ParseUInt(P("rx-ring-ref"), Value("rx-ring-ref"));

        // As Linux's connect_data_rings: the split keys when both are there (whatever else is), else the
        // single one. A split key that is there and malformed is refused, in the one strict grammar
        // (decision 38), where Linux's xenbus_gather would fall back to the single key.
        uint txPort, rxPort;
        var splitTx = Value("event-channel-tx");
        var splitRx = Value("event-channel-rx");
        var split = splitTx is not null && splitRx is not null;
        if (split)
        {
            txPort = ParsePort(P("event-channel-tx"), splitTx);
            rxPort = ParsePort(P("event-channel-rx"), splitRx);
        }
        else if (Value("event-channel") is { } single)
        {
            txPort = rxPort = ParsePort(P("event-channel"), single);
        }
        else
        {
            // Name the key a split frontend forgot, or the single key when it wrote neither.
            var missing = splitTx is not null ? "event-channel-rx" : splitRx is not null ? "event-channel-tx" : "event-channel";
            throw new VifConfigException(P(missing), null, "missing");
        }

        // As Linux netback: rx-flip is long gone, so a frontend that does not ask for copy cannot be served.
        var rxCopyText = Value("request-rx-copy");
        if (!XenStoreValue.ParseFlag(P("request-rx-copy"), rxCopyText))
            throw new VifConfigException(P("request-rx-copy"), rxCopyText, "the frontend must request rx-copy");

        var noCsum = XenStoreValue.ParseFlag(P("feature-no-csum-offload"), Value("feature-no-csum-offload"));
        return new FrontendConfig(
            tx, rx, txPort, rxPort, split,
            RxNotify: XenStoreValue.ParseFlag(P("feature-rx-notify"), Value("feature-rx-notify")),
            ScatterGather: XenStoreValue.ParseFlag(P("feature-sg"), Value("feature-sg")),
            GsoTcpV4: XenStoreValue.ParseFlag(P("feature-gso-tcpv4"), Value("feature-gso-tcpv4")),
            GsoTcpV6: XenStoreValue.ParseFlag(P("feature-gso-tcpv6"), Value("feature-gso-tcpv6")),
            Ipv4ChecksumOffload: !noCsum,
            Ipv6ChecksumOffload: XenStoreValue.ParseFlag(P("feature-ipv6-csum-offload"), Value("feature-ipv6-csum-offload")),
            XdpHeadroom: ParseXdpHeadroom(Value("xdp-headroom")),
            RequestMulticastControl: ParseMulticastControl(Value("request-multicast-control")));
    }

    /// <summary>
    /// Linux's <c>read_xenbus_frontend_xdp</c>: <c>xenbus_scanf(..., "xdp-headroom", "%hu")</c>, 0 when it
    /// does not parse one value (no key, no digits), else clamped to <see cref="NetifConstants.MaxXdpHeadroom"/>.
    /// The kernel's <c>%hu</c> skips leading white space, takes the decimal digits that follow (no sign) and
    /// keeps their value's low 16 bits; what comes after them is ignored. A headroom that leaves too little
    /// of a page is not refused here, as Linux does not: the frames it makes undeliverable are dropped
    /// and counted (<see cref="Netback.RxSlotPlanner"/>).
    /// </summary>
    public static ushort ParseXdpHeadroom(string? value) =>
        ScanUnsigned(value, out var low32) ? (ushort)Math.Min(low32 & 0xFFFF, NetifConstants.MaxXdpHeadroom) : (ushort)0;

    /// <summary>
    /// Linux's <c>!!xenbus_read_unsigned(otherend, "request-multicast-control", 0)</c>: the <c>%u</c> value
    /// (<see cref="ScanUnsigned"/>) is non-zero; no key, or no digits, is off.
    /// </summary>
    public static bool ParseMulticastControl(string? value) => ScanUnsigned(value, out var low32) && low32 != 0;

    /// <summary>
    /// The kernel's <c>sscanf("%u")</c>: skips leading white space, takes the decimal digits that follow (no
    /// sign), keeps their value's low 32 bits, ignores what comes after them; false when there are no digits.
    /// </summary>
    private static bool ScanUnsigned(string? value, out uint low32)
    {
        low32 = 0;
        if (value is null)
            return false;
        var i = 0;
        while (i < value.Length && value[i] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r')
            i++;
        var start = i;
        for (; i < value.Length && value[i] is >= '0' and <= '9'; i++)
            low32 = unchecked(low32 * 10 + (uint)(value[i] - '0'));
        return i != start;
    }

    /// <summary>What the frontend asked for, as the status shows it ("sg,gso-tcpv4,...").</summary>
    public string Describe()
    {
        var parts = new List<string>(8);
        if (ScatterGather) parts.Add("sg");
        if (GsoTcpV4) parts.Add("gso-tcpv4");
        if (GsoTcpV6) parts.Add("gso-tcpv6");
        if (Ipv4ChecksumOffload) parts.Add("csum");
        if (Ipv6ChecksumOffload) parts.Add("ipv6-csum");
        if (RxNotify) parts.Add("rx-notify");
        if (SplitEventChannels) parts.Add("split-event-channels");
        if (XdpHeadroom != 0) parts.Add($"xdp-headroom={XdpHeadroom}");
        if (RequestMulticastControl) parts.Add("multicast-control");
        return string.Join(',', parts);
    }

    /// <summary>The frontend keys read at connect.</summary>
    private static readonly string[] Keys =
    [
        "multi-queue-num-queues", "tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx", "event-channel-rx",
        "request-rx-copy", "feature-no-csum-offload", "feature-rx-notify", "feature-sg", "feature-gso-tcpv4",
        "feature-gso-tcpv6", "feature-ipv6-csum-offload", "xdp-headroom", "request-multicast-control",
    ];

    private static uint ParsePort(string path, string? value)
    {
        var port = XenStoreValue.ParseUInt(path, value, MaxPort);
        if (port == 0)
            throw new VifConfigException(path, value, "port 0 is invalid");
        return port;
    }
}
