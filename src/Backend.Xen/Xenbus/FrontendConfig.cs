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
/// <param name="MoreQueues">
/// Every queue's rings when the frontend asked for more than one (<c>multi-queue-num-queues</c>); the flat
/// ring fields are then queue 0's. Null for a one-queue frontend (<see cref="Queues"/> is then the flat fields).
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
    bool RequestMulticastControl = false,
    IReadOnlyList<QueueRings>? MoreQueues = null)
{
    /// <summary>Linux's cap on <c>xenvif_max_queues</c> here: a setting above it is refused (decision 81).</summary>
    public const int MaxQueuesLimit = 8;

    /// <summary>The frontend's queues, queue 0 first: one for a frontend that did not ask for more.</summary>
    public IReadOnlyList<QueueRings> Queues => MoreQueues ?? [new QueueRings(TxRingRef, RxRingRef, TxEventChannel, RxEventChannel, SplitEventChannels)];

    /// <summary>Event channel ports above this exist on no Xen (the FIFO ABI's limit is 2^17).</summary>
    public const uint MaxPort = (1u << 17) - 1;

    /// <summary>The frontend takes GSO frames of some kind: frames to it may be up to 64 KiB whatever its MTU.</summary>
    public bool TakesGso => GsoTcpV4 || GsoTcpV6;

    /// <param name="maxQueues">What the backend published as <c>multi-queue-max-queues</c>.</param>
    public static async Task<FrontendConfig> ReadAsync(IXenStore xs, string frontendPath, int maxQueues = 1, CancellationToken cancellationToken = default)
    {
        string P(string key) => $"{frontendPath}/{key}";

        // Every key is asked for at once (pipelined on the connection, one round trip instead of a dozen),
        // then parsed in the order below, so a bad frontend reports the same key first.
        var keys = new Dictionary<string, Task<string?>>(Keys.Length, StringComparer.Ordinal);
        foreach (var key in Keys)
            keys.Add(key, xs.ReadAsync(P(key), null, cancellationToken));
        await Task.WhenAll(keys.Values);
        string? Value(string key) => keys[key].Result;

        // As Linux's connect(): absent means one queue on the flat keys; more than the backend published is
        // refused, and so is 0 (Linux would allocate no queue at all; a frontend asking for none is broken).
        var queueCount = 1u;
        if (Value("multi-queue-num-queues") is { } requested)
        {
            queueCount = XenStoreValue.ParseUInt(P("multi-queue-num-queues"), requested);
            if (queueCount == 0 || queueCount > (uint)maxQueues)
                throw new VifConfigException(P("multi-queue-num-queues"), requested, $"guest requested {queueCount} queues, the backend offers 1 to {maxQueues}");
        }
        QueueRings[]? more = null;
        QueueRings first;
        if (queueCount == 1)
        {
            first = ParseQueue(frontendPath, Value);
        }
        else
        {
            // Linux's connect_data_rings with num_queues > 1: each queue's keys under queue-N/, asked for at once.
            var queueKeys = new Dictionary<string, Task<string?>>((int)queueCount * QueueKeys.Length, StringComparer.Ordinal);
            for (var q = 0; q < queueCount; q++)
            {
                foreach (var key in QueueKeys)
                {
                    var path = $"{frontendPath}/queue-{q}/{key}";
                    queueKeys.Add(path, xs.ReadAsync(path, null, cancellationToken));
                }
            }
            await Task.WhenAll(queueKeys.Values);
            more = new QueueRings[queueCount];
            for (var q = 0; q < queueCount; q++)
            {
                var queuePath = $"{frontendPath}/queue-{q}";
                more[q] = ParseQueue(queuePath, key => queueKeys[$"{queuePath}/{key}"].Result);
            }
            first = more[0];
        }

        // As Linux netback: rx-flip is long gone, so a frontend that does not ask for copy cannot be served.
        var rxCopyText = Value("request-rx-copy");
        if (!XenStoreValue.ParseFlag(P("request-rx-copy"), rxCopyText))
            throw new VifConfigException(P("request-rx-copy"), rxCopyText, "the frontend must request rx-copy");

        var noCsum = XenStoreValue.ParseFlag(P("feature-no-csum-offload"), Value("feature-no-csum-offload"));
        return new FrontendConfig(
            first.TxRingRef, first.RxRingRef, first.TxEventChannel, first.RxEventChannel, first.SplitEventChannels,
            RxNotify: XenStoreValue.ParseFlag(P("feature-rx-notify"), Value("feature-rx-notify")),
            ScatterGather: XenStoreValue.ParseFlag(P("feature-sg"), Value("feature-sg")),
            GsoTcpV4: XenStoreValue.ParseFlag(P("feature-gso-tcpv4"), Value("feature-gso-tcpv4")),
            GsoTcpV6: XenStoreValue.ParseFlag(P("feature-gso-tcpv6"), Value("feature-gso-tcpv6")),
            Ipv4ChecksumOffload: !noCsum,
            Ipv6ChecksumOffload: XenStoreValue.ParseFlag(P("feature-ipv6-csum-offload"), Value("feature-ipv6-csum-offload")),
            XdpHeadroom: ParseXdpHeadroom(Value("xdp-headroom")),
            RequestMulticastControl: ParseMulticastControl(Value("request-multicast-control")),
            MoreQueues: more);
    }

    /// <summary>One queue's keys under <paramref name="path"/> (the frontend's directory, or its <c>queue-N</c>).</summary>
    private static QueueRings ParseQueue(string path, Func<string, string?> value)
    {
        string P(string key) => $"{path}/{key}";
        var tx = XenStoreValue.ParseUInt(P("tx-ring-ref"), value("tx-ring-ref"));
        var rx = XenStoreValue.ParseUInt(P("rx-ring-ref"), value("rx-ring-ref"));

        // As Linux's connect_data_rings: the split keys when both are there (whatever else is), else the
        // single one. A split key that is there and malformed is refused, in the one strict grammar
        // (decision 38), where Linux's xenbus_gather would fall back to the single key.
        var splitTx = value("event-channel-tx");
        var splitRx = value("event-channel-rx");
        if (splitTx is not null && splitRx is not null)
            return new QueueRings(tx, rx, ParsePort(P("event-channel-tx"), splitTx), ParsePort(P("event-channel-rx"), splitRx), true);
        if (value("event-channel") is { } single)
        {
            var port = ParsePort(P("event-channel"), single);
            return new QueueRings(tx, rx, port, port, false);
        }
        // Name the key a split frontend forgot, or the single key when it wrote neither.
        var missing = splitTx is not null ? "event-channel-rx" : splitRx is not null ? "event-channel-tx" : "event-channel";
        throw new VifConfigException(P(missing), null, "missing");
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
        if (MoreQueues is { Count: > 1 } queues) parts.Add($"queues={queues.Count}");
        return string.Join(',', parts);
    }

    /// <summary>The keys of one queue (under <c>queue-N/</c> when there are several).</summary>
    private static readonly string[] QueueKeys = ["tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx", "event-channel-rx"];

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
