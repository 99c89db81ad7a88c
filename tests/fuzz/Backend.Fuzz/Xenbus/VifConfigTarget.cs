using System.Globalization;
using System.Text;
using Backend.Xen.Abi;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Fuzz.Xenbus;

/// <summary>
/// The values a vif is configured from, as they come: the toolstack's keys in the backend directory
/// (<c>frontend-id</c>, <c>frontend</c>, <c>mac</c>, <c>bridge</c>, <c>mtu</c>, <c>rate</c>, <c>online</c>) and
/// the frontend's (<c>tx-ring-ref</c>, <c>event-channel*</c>, <c>request-rx-copy</c>, the features, the
/// queue count, <c>mtu</c>), read by <see cref="VifBackend.ReadConnectConfigAsync"/> (BackendConfig,
/// FrontendConfig, RateLimit, MacAddress, the MTU choice); plus a watch path under <c>backend/vif</c>
/// (<see cref="VifPaths.ParseWatchPath"/>) and a <c>state</c> node's text. Each key is absent, a value from a
/// vocabulary of good and nearly good ones, or any text (Latin-1 or any UTF-16).
/// </summary>
/// <remarks>
/// Invariants: a bad value fails with <see cref="VifConfigException"/>, nothing else (not even xenstore's
/// EINVAL for a frontend path it would refuse: that is the backend's bad key), and its message shows the value escaped (no control or format
/// character reaches a log line); what is accepted is what SIMXEN's grammar allows, checked here
/// independently: decimal digits only and in range, ports 1 to 2^17 - 1, flags "0" or "1", rx-copy
/// requested, one queue, the frontend-id the directory's, a MAC of six hex pairs, an MTU of 68 to 65535 from
/// the backend (any up to 65535 from the frontend), a rate of positive bytes per 1 µs to 1000 s; a watch
/// path names a vif only when its domid and handle are numbers in range.
/// </remarks>
public sealed class VifConfigTarget : FuzzTarget
{
    private const ushort FrontendDomId = 3;
    private static readonly VifPaths Paths = new(0, new VifId(FrontendDomId, 0));
    private static readonly string Root = VifPaths.BackendVifRoot(0);
    private const string DefaultFrontend = "/local/domain/3/device/vif/0";

    private static readonly string[] BackendKeys = ["frontend-id", "frontend", "mac", "bridge", "mtu", "rate", "online"];

    private static readonly string[] FrontendKeys =
    [
        "multi-queue-num-queues", "tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx", "event-channel-rx",
        "request-rx-copy", "feature-no-csum-offload", "feature-rx-notify", "feature-sg", "feature-gso-tcpv4",
        "feature-gso-tcpv6", "feature-ipv6-csum-offload", "mtu",
    ];

    /// <summary>Good values, and values one step from good.</summary>
    internal static readonly string[] Vocabulary =
    [
        "1", "0", "3", "8", "4096", "131071", "131072", "4294967295", "4294967296", "007", "", "-1", " 1", "+1", "0x10",
        "1 ", "01", "2", DefaultFrontend, DefaultFrontend + "/", "local/domain/3", "/local/domain/3/device/vif/1",
        "00:16:3e:00:00:03", "00:16:3E:0a:0B:ff", "00:16:3e:00:00:0g", "00-16-3e-00-00-03", "00:16:3e:00:00:03:",
        "xenbr0", "1000,1000", "0,1", "1,0", "18446744073709551615,1000000000", "1,1000000001", ",1", "1,", "1,,1",
        "1500", "68", "67", "65535", "65536", "32751", "32752", "connected", "\u001b[31mred", "\u202eevil", "4\n",
        "/local/domain/0/backend/vif/3", "/local/domain/0/backend/vif/3/0/state", "/local/domain/0/backend/vif/x/0",
        "/local/domain/0/backend/vif/32752", "/local/domain/0/backend/vif/3/4294967296",
    ];

    private readonly MemoryXenStore _store = new();
    private readonly StringBuilder _text = new();

    public override string Name => "xenbus";

    protected override void Execute(ReadOnlySpan<byte> input)
    {
        var script = new FuzzInput(input);
        _store.Nodes.Clear();
        var backend = new string?[BackendKeys.Length];
        for (var i = 0; i < BackendKeys.Length; i++)
        {
            backend[i] = Value(ref script);
            if (backend[i] is { } value)
                _store.Nodes[Paths.Backend(BackendKeys[i])] = value;
        }
        var frontendPath = backend[1] ?? DefaultFrontend;
        var frontend = new string?[FrontendKeys.Length];
        for (var i = 0; i < FrontendKeys.Length; i++)
        {
            frontend[i] = Value(ref script);
            if (frontend[i] is { } value)
                _store.Nodes[$"{frontendPath}/{FrontendKeys[i]}"] = value;
        }

        var read = new VifBackend(_store, Paths).ReadConnectConfigAsync();
        if (!read.IsCompleted)
            throw new InvariantException("a configuration read over reads that complete at once did not complete");
        if (read.Exception?.InnerException is { } failure)
            CheckFailure(failure);
        else
            CheckAccepted(read.Result, backend, frontend);

        CheckWatchPath(Value(ref script) ?? "");
        var state = Value(ref script);
        var parsed = XenbusStateText.Parse(state);
        if (parsed != XenbusState.Unknown && !(state is { Length: 1 } && state[0] - '0' == (int)parsed))
            throw new InvariantException($"state text \"{PrintableValue.Of(state ?? "")}\" read as {parsed}");
    }

    /// <summary>Absent (0), a vocabulary value (below 0x80), or 0x80 + n Latin-1 bytes / 0xC0 + n UTF-16 units.</summary>
    private string? Value(ref FuzzInput script)
    {
        var b = script.Byte();
        if (b == 0)
            return null;
        if (b < 0x80)
            return Vocabulary[(b - 1) % Vocabulary.Length];
        _text.Clear();
        var n = b & 0x3F;
        for (var i = 0; i < n; i++)
            _text.Append(b >= 0xC0 ? (char)script.UInt16() : (char)script.Byte());
        return _text.ToString();
    }

    private static void CheckFailure(Exception failure)
    {
        switch (failure)
        {
            case VifConfigException config:
                foreach (var c in config.Message)
                {
                    if (char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
                        throw new InvariantException($"a configuration error prints U+{(int)c:X4} as it is: {config.Message.Replace("\u001b", "ESC", StringComparison.Ordinal)}");
                }
                return;
            default:
                throw new InvariantException($"a configuration read failed with {failure.GetType().Name}: {failure.Message}");
        }
    }

    private static void CheckAccepted(VifConnectConfig config, string?[] backend, string?[] frontend)
    {
        var b = config.Backend;
        if (b.FrontendId != FrontendDomId || Number(backend[0]) != FrontendDomId)
            throw new InvariantException($"frontend-id \"{backend[0]}\" accepted for domain {FrontendDomId}");
        if (b.FrontendPath != backend[1] || !XenStorePath.IsValid(b.FrontendPath, allowSpecial: false))
            throw new InvariantException($"frontend \"{PrintableValue.Of(backend[1] ?? "")}\" accepted");
        if (backend[2] is not { Length: 17 } mac || !string.Equals(b.Mac.ToString(), mac, StringComparison.OrdinalIgnoreCase))
            throw new InvariantException($"mac \"{PrintableValue.Of(backend[2] ?? "")}\" accepted as {b.Mac}");
        if (b.Bridge != (backend[3] ?? ""))
            throw new InvariantException("bridge not as written");
        if (backend[4] is null ? b.Mtu is not null : Number(backend[4]) is not (>= BackendConfig.MinMtu and <= BackendConfig.MaxMtu) || b.Mtu != Number(backend[4]))
            throw new InvariantException($"backend mtu \"{PrintableValue.Of(backend[4] ?? "")}\" accepted as {b.Mtu}");
        if (backend[5] is null ? b.Rate is not null || b.MalformedRate is not null : !RateReadAsWritten(backend[5]!, b))
            throw new InvariantException($"rate \"{PrintableValue.Of(backend[5] ?? "")}\" read as {b.Rate} (malformed: {b.MalformedRate is not null})");
        if (b.Online != (backend[6] == "1") || backend[6] is not (null or "0" or "1"))
            throw new InvariantException($"online \"{PrintableValue.Of(backend[6] ?? "")}\" accepted as {b.Online}");

        var f = config.Frontend;
        if (frontend[0] is not null && Number(frontend[0]) != 1)
            throw new InvariantException($"multi-queue-num-queues \"{PrintableValue.Of(frontend[0]!)}\" accepted");
        if (Number(frontend[1]) != f.TxRingRef || Number(frontend[2]) != f.RxRingRef)
            throw new InvariantException("ring references not as written");
        // As Linux: the split keys whenever both are written.
        var split = frontend[4] is not null && frontend[5] is not null;
        var tx = Number(split ? frontend[4] : frontend[3]);
        var rx = Number(split ? frontend[5] : frontend[3]);
        if (f.SplitEventChannels != split || tx != f.TxEventChannel || rx != f.RxEventChannel
            || f.TxEventChannel is 0 or > FrontendConfig.MaxPort || f.RxEventChannel is 0 or > FrontendConfig.MaxPort)
            throw new InvariantException($"event channels {f.TxEventChannel}/{f.RxEventChannel} (split {f.SplitEventChannels}) accepted");
        if (frontend[6] != "1")
            throw new InvariantException("a frontend that did not request rx-copy accepted");
        if (!Flag(frontend[7], !f.Ipv4ChecksumOffload) || !Flag(frontend[8], f.RxNotify) || !Flag(frontend[9], f.ScatterGather)
            || !Flag(frontend[10], f.GsoTcpV4) || !Flag(frontend[11], f.GsoTcpV6) || !Flag(frontend[12], f.Ipv6ChecksumOffload))
            throw new InvariantException("a feature flag not as written, or not 0 or 1");
        ulong mtu = b.Mtu ?? (frontend[13] is null ? BackendConfig.DefaultMtu : Number(frontend[13]));
        if ((ulong)config.Mtu != mtu || mtu > BackendConfig.MaxMtu)
            throw new InvariantException($"mtu {config.Mtu} from backend {b.Mtu} and frontend \"{PrintableValue.Of(frontend[13] ?? "")}\"");
    }

    /// <summary>
    /// A rate in the grammar is read as written; any other value means unlimited (as Linux's
    /// xen_net_read_rate) and is kept, as written, for the warning.
    /// </summary>
    private static bool RateReadAsWritten(string written, BackendConfig b)
    {
        var comma = written.IndexOf(',');
        var bytes = comma < 0 ? ulong.MaxValue : Number(written[..comma], 20);
        var usec = comma < 0 ? ulong.MaxValue : Number(written[(comma + 1)..], 20);
        // Number's "not a number" is ulong.MaxValue, which is also a rate's largest byte count.
        var bytesValid = bytes is > 0 and < ulong.MaxValue || (comma >= 0 && written[..comma] == "18446744073709551615");
        var valid = bytesValid && usec is > 0 and <= 1_000_000_000UL;
        return valid
            ? b.Rate is { } rate && rate.Bytes == bytes && rate.Microseconds == usec && b.MalformedRate is null
            : b.Rate is null && b.MalformedRate == written;
    }

    private static bool Flag(string? written, bool value) => written is null ? !value : written is "0" or "1" && value == (written == "1");

    /// <summary>
    /// The strict grammar, written again: 1 to <paramref name="digits"/> ASCII digits and in range of a
    /// ulong; anything else is -1 (as ulong.MaxValue), which no accepted value equals.
    /// </summary>
    private static ulong Number(string? written, int digits = 10)
    {
        if (written is null || written.Length is 0 || written.Length > digits)
            return ulong.MaxValue;
        ulong value = 0;
        foreach (var c in written)
        {
            if (c is < '0' or > '9')
                return ulong.MaxValue;
            var next = unchecked(value * 10 + (ulong)(c - '0'));
            if (next / 10 != value)
                return ulong.MaxValue;
            value = next;
        }
        return digits == 10 && value > uint.MaxValue ? ulong.MaxValue : value;
    }

    private static void CheckWatchPath(string path)
    {
        var parsed = VifPaths.ParseWatchPath(Root, path);
        if (parsed.Kind is not (VifWatchPathKind.Domain or VifWatchPathKind.VifDirectory or VifWatchPathKind.VifNode))
            return;
        var parts = path[(Root.Length + 1)..].Split('/');
        var domid = Number(parts[0]);
        if (domid > DomId.Max || domid != parsed.Vif.DomId)
            throw new InvariantException($"watch path \"{PrintableValue.Of(path)}\" names domain {parsed.Vif.DomId}");
        if (parsed.Kind != VifWatchPathKind.Domain && Number(parts[1]) != parsed.Vif.Handle)
            throw new InvariantException($"watch path \"{PrintableValue.Of(path)}\" names handle {parsed.Vif.Handle}");
        var expected = parts.Length == 1 ? VifWatchPathKind.Domain : parts.Length == 2 ? VifWatchPathKind.VifDirectory : VifWatchPathKind.VifNode;
        if (parsed.Kind != expected)
            throw new InvariantException($"watch path \"{PrintableValue.Of(path)}\" read as {parsed.Kind}");
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        // A vocabulary value is its index + 1.
        static int V(string value) => Array.IndexOf(Vocabulary, value) + 1;
        static FuzzScript Good() => new FuzzScript()
            .Byte(V("3")).Byte(V(DefaultFrontend)).Byte(V("00:16:3e:00:00:03")).Byte(V("xenbr0")).Byte(0).Byte(0).Byte(V("1"));

        static FuzzSeed Connect(string name, FuzzScript backend, int queues, int tx, int rx, int port, int portTx, int portRx,
            int rxCopy, int mtu = 0, int watch = 0, int state = 0)
        {
            backend.Byte(queues).Byte(tx).Byte(rx).Byte(port).Byte(portTx).Byte(portRx).Byte(rxCopy);
            for (var i = 0; i < 6; i++)
                backend.Byte(V("1"));
            return backend.Byte(mtu).Byte(watch).Byte(state).Seed(name);
        }

        yield return Connect("good", Good(), 0, V("8"), V("8"), V("3"), 0, 0, V("1"), 0, V("/local/domain/0/backend/vif/3/0/state"), V("4"));
        yield return Connect("split-channels", Good(), V("1"), V("8"), V("8"), 0, V("3"), V("4096"), V("1"), V("1500"), V("/local/domain/0/backend/vif/3"), V("1"));
        // Issue 12 finding 10: a port of 4096 and up passes here (no Xen has fewer than 2^17 ports on FIFO);
        // one past 2^17 - 1 does not.
        yield return Connect("port-4096-and-past-the-fifo-limit", Good(), 0, V("8"), V("8"), 0, V("131071"), V("131072"), V("1"));
        yield return Connect("bad-values-escaped", Good(), 0, V("\u001b[31mred"), V("8"), V("\u202eevil"), 0, 0, V("1"));
        yield return Connect("no-rx-copy-two-queues", Good(), V("2"), V("8"), V("8"), V("3"), 0, 0, V("0"));
        yield return Connect("ring-ref-past-32-bits", Good(), 0, V("4294967296"), V("007"), V("3"), 0, 0, V("1"), 0, V("/local/domain/0/backend/vif/3/4294967296"));
        var backend = new FuzzScript().Byte(V("3")).Byte(V(DefaultFrontend)).Byte(V("00:16:3E:0a:0B:ff")).Byte(0).Byte(V("68")).Byte(V("1000,1000")).Byte(V("0"));
        yield return Connect("mtu-rate-uppercase-mac", backend, 0, V("8"), V("8"), V("3"), 0, 0, V("1"));
        var badRate = new FuzzScript().Byte(V("3")).Byte(V(DefaultFrontend)).Byte(V("00:16:3e:00:00:03")).Byte(0).Byte(0).Byte(V("1,1000000001")).Byte(0);
        yield return Connect("rate-past-1000-s", badRate, 0, V("8"), V("8"), V("3"), 0, 0, V("1"));
        var badMtu = new FuzzScript().Byte(V("3")).Byte(V(DefaultFrontend)).Byte(V("00:16:3e:00:00:03")).Byte(0).Byte(V("67")).Byte(0).Byte(0);
        yield return Connect("backend-mtu-below-68", badMtu, 0, V("8"), V("8"), V("3"), 0, 0, V("1"));
        var otherDomain = new FuzzScript().Byte(V("32752")).Byte(V("local/domain/3")).Byte(V("00-16-3e-00-00-03")).Byte(0).Byte(0).Byte(0).Byte(0);
        yield return Connect("reserved-domain-relative-frontend", otherDomain, 0, V("8"), V("8"), V("3"), 0, 0, V("1"));
        var raw = new FuzzScript().Byte(V("3")).Byte(0x80 | 5).Bytes("/a\u001bbc"u8).Byte(V("00:16:3e:00:00:03")).Byte(0).Byte(0).Byte(0).Byte(0);
        yield return Connect("frontend-path-with-an-escape", raw, 0, V("8"), V("8"), V("3"), 0, 0, V("1"));
    }
}
