using Backend.Xen.Abi;

namespace Backend.Host.Hosting;

/// <summary>Checks <see cref="DaemonSettings"/> and says, one line per bad value, what is wrong and where.</summary>
public static class DaemonSettingsValidator
{
    /// <summary>An hour: a frame or a stalled guest held longer is no longer a timeout but a leak.</summary>
    private const int MaxRxTimeoutMs = 3_600_000;

    public static IReadOnlyList<string> Validate(DaemonSettings s)
    {
        var errors = new List<string>();
        if (s.Xen is not ("auto" or "linux" or "sim"))
            errors.Add($"Xen (--xen): '{s.Xen}' is not one of auto, linux, sim");
        if (s.SimRoot is { } root)
        {
            if (root.Length == 0)
                errors.Add("SimRoot (--sim-root): empty");
            else if (root.Length > DaemonSettings.MaxSimRootLength)
                errors.Add($"SimRoot (--sim-root): '{root}' is {root.Length} characters; at most {DaemonSettings.MaxSimRootLength} fit a socket path");
        }
        if (s.DomId is { } domid && !DomId.IsDomain(domid))
            errors.Add($"DomId (--domid): {domid} is not a domain id (0 to {DomId.Max})");
        if (s.XenStore is { Length: 0 })
            errors.Add("XenStore (--xenstore): empty path");
        ValidateAdmin(s, errors);
        if (s.Demo is < 0 or > 64)
            errors.Add($"Demo (--demo): {s.Demo} guests; the demo runs 0 to 64");
        if (s.LogFormat is not ("text" or "json"))
            errors.Add($"LogFormat (--log-format): '{s.LogFormat}' is not text or json");
        if (!Enum.TryParse<Serilog.Events.LogEventLevel>(s.LogLevel, ignoreCase: true, out _))
            errors.Add($"LogLevel (--log-level): '{s.LogLevel}' is not Verbose, Debug, Information, Warning, Error or Fatal");
        if (s.RxQueueLength is < 512 or > 65536)
            errors.Add($"RxQueueLength: {s.RxQueueLength}; SIMXEN asks for at least 512 (at most 65536)");
        if (s.RxQueueBytes is < 65536 or > 1 << 30)
            errors.Add($"RxQueueBytes: {s.RxQueueBytes}; at least 65536 (one largest frame), at most 1073741824");
        if (s.RxStallTimeoutMs is < 0 or > MaxRxTimeoutMs)
            errors.Add($"RxStallTimeoutMs: {s.RxStallTimeoutMs}; 0 (never) to {MaxRxTimeoutMs} milliseconds");
        if (s.RxDrainTimeoutMs is < 1 or > MaxRxTimeoutMs)
            errors.Add($"RxDrainTimeoutMs: {s.RxDrainTimeoutMs}; 1 to {MaxRxTimeoutMs} milliseconds");
        if (s.HypercallThreads is < 0 or > 256)
            errors.Add($"HypercallThreads: {s.HypercallThreads} is not 0 (one per core) to 256");
        if (s.MaxQueues is < 0 or > Xen.Xenbus.FrontendConfig.MaxQueuesLimit)
            errors.Add($"MaxQueues: {s.MaxQueues} is not 0 (one per lane) to {Xen.Xenbus.FrontendConfig.MaxQueuesLimit}");
        ValidateNetworking(s, errors);
        ValidateCluster(s.Cluster, errors);
        return errors;
    }

    /// <summary>
    /// The admin URL (http or https), and what goes with it: one token source at most, a certificate for
    /// https and only for https. The files themselves are read by <see cref="Admin.AdminAccess"/>.
    /// </summary>
    private static void ValidateAdmin(DaemonSettings s, List<string> errors)
    {
        if (!Uri.TryCreate(s.Admin, UriKind.Absolute, out var admin) || admin.Scheme is not ("http" or "https") || admin.AbsolutePath != "/" || admin.Query.Length > 0)
        {
            errors.Add($"Admin (--admin): '{s.Admin}' is not an http://HOST:PORT or https://HOST:PORT URL");
            admin = null;
        }
        if (s.AdminToken is not null && s.AdminTokenFile is not null)
            errors.Add("AdminToken, AdminTokenFile (--admin-token-file): both given; give one");
        if (s.AdminTokenFile is { Length: 0 })
            errors.Add("AdminTokenFile (--admin-token-file): empty path");
        if (s.AdminCertificate is { Length: 0 })
            errors.Add("AdminCertificate (--admin-certificate): empty path");
        if (s.AdminCertificateKey is not null && s.AdminCertificate is null)
            errors.Add("AdminCertificateKey (--admin-certificate-key): given without AdminCertificate");
        if (admin?.Scheme == "https" && s.AdminCertificate is null)
            errors.Add($"AdminCertificate (--admin-certificate): the admin URL '{s.Admin}' is https and needs a certificate (PEM, or PKCS#12)");
        if (admin?.Scheme == "http" && s.AdminCertificate is not null)
            errors.Add($"AdminCertificate (--admin-certificate): given, but the admin URL '{s.Admin}' is http (use https://)");
    }

    /// <summary>--switch and --uplink: each uplink parses, names its own TAP, and needs the in-process bridge.</summary>
    private static void ValidateNetworking(DaemonSettings s, List<string> errors)
    {
        if (s.Switch is not ("auto" or "tap" or "inproc"))
            errors.Add($"Switch (--switch): '{s.Switch}' is not one of auto, tap, inproc");
        if (s.BridgeSourceMac is not ("locked" or "any"))
            errors.Add($"BridgeSourceMac: '{s.BridgeSourceMac}' is not locked or any");
        if (s.BridgeMaxMacs is < 16 or > 1_048_576)
            errors.Add($"BridgeMaxMacs: {s.BridgeMaxMacs} is not 16 to 1048576");
        var taps = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in s.Uplinks)
        {
            if (!Backend.Actors.Uplink.UplinkSpec.TryParse(text, out var spec, out var why))
                errors.Add($"Uplink (--uplink): '{text}' is not {Backend.Actors.Uplink.UplinkSpec.Syntax}: {why}");
            else if (!taps.Add(spec!.TapName))
                errors.Add($"Uplink (--uplink): TAP {spec.TapName} is named by two uplinks");
        }
        if (s.Uplinks.Count > 0 && s.Switch == "tap")
            errors.Add("Uplink (--uplink): uplinks join the in-process bridge; with --switch tap each vif has its own TAP instead (use --switch inproc)");
    }

    /// <summary>
    /// The fleet: an address the other nodes can reach (not a wildcard), seeds that name the system
    /// <c>xnb</c> over the transport in use (akka.tcp, or akka.ssl.tcp with TLS), and the TLS files given together. Checked when off too: a typo must not wait for the
    /// day the fleet is turned on.
    /// </summary>
    private static void ValidateCluster(ClusterSettings c, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(c.Hostname))
            errors.Add("Cluster:Hostname: empty; give the address the other nodes reach this one at");
        else if (c.Hostname is "0.0.0.0" or "::" or "[::]" or "*" or "+")
            errors.Add($"Cluster:Hostname: '{c.Hostname}' is a wildcard; it is also this node's name in the fleet, so give the address the other nodes reach it at");
        else if (Uri.CheckHostName(c.Hostname.Trim('[', ']')) == UriHostNameType.Unknown)
            errors.Add($"Cluster:Hostname: '{c.Hostname}' is not a host name or IP address");
        if (c.Port is < 1 or > 65535)
            errors.Add($"Cluster:Port: {c.Port} is not 1 to 65535");
        // Akka.Remote names its transport in the address: akka.ssl.tcp once TLS is on.
        var scheme = c.Tls.Certificate is null ? "akka.tcp" : "akka.ssl.tcp";
        foreach (var seed in c.Seeds)
            if (!IsSeed(seed, scheme))
                errors.Add($"Cluster:Seeds: '{seed}' is not {scheme}://xnb@HOST:PORT{(c.Tls.Certificate is null ? "" : " (Cluster:Tls is set)")}");
        if (c.Enabled && c.Seeds.Count == 0)
            errors.Add("Cluster:Seeds: none; list at least one (the first node of a fleet lists its own address)");
        if (c.StableAfterSeconds is < 1 or > 600)
            errors.Add($"Cluster:StableAfterSeconds: {c.StableAfterSeconds} is not 1 to 600");
        var tls = c.Tls;
        if (tls.Certificate is { Length: 0 })
            errors.Add("Cluster:Tls:Certificate: empty path");
        if (tls.Certificate is null && (tls.Key ?? tls.Password ?? tls.Authority) is not null)
            errors.Add("Cluster:Tls:Certificate: Key, Password or Authority given without a Certificate");
        if (tls.Key is { Length: 0 })
            errors.Add("Cluster:Tls:Key: empty path");
        if (tls.Authority is { Length: 0 })
            errors.Add("Cluster:Tls:Authority: empty path");
    }

    /// <summary><c>SCHEME://xnb@HOST:PORT</c> and nothing more.</summary>
    internal static bool IsSeed(string seed, string scheme) =>
        Uri.TryCreate(seed, UriKind.Absolute, out var uri) && uri.Scheme == scheme && uri.UserInfo == "xnb" &&
        uri.Host.Length > 0 && uri.Port is > 0 and <= 65535 &&
        uri.AbsolutePath == "/" && uri.Query.Length == 0 && uri.Fragment.Length == 0;
}
