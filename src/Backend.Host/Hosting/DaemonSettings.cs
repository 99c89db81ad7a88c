namespace Backend.Host.Hosting;

/// <summary>
/// The daemon's settings, from <c>appsettings.json</c> (section "Xnb"), then <c>XNB_*</c> environment
/// variables, then the command line, each overriding the one before. Validated once at start.
/// </summary>
public sealed class DaemonSettings
{
    /// <summary>auto (real Xen when /dev/xen/gntdev exists, else simulated), linux or sim.</summary>
    public string Xen { get; set; } = "auto";

    /// <summary>SIMXEN root; none under simulated Xen means the embedded demo with a fresh root.</summary>
    public string? SimRoot { get; set; }

    /// <summary>
    /// The backend's own domain id. Not given: on real Xen it is read from xenstore (the relative
    /// <c>domid</c> key, as in a driver domain), under SIMXEN it is 0.
    /// </summary>
    public int? DomId { get; set; }

    /// <summary>A xenstore socket to use instead of ROOT/xenstored.sock (or the real one).</summary>
    public string? XenStore { get; set; }

    /// <summary>Admin endpoint URL; loopback by default, port 0 picks a free port.</summary>
    public string Admin { get; set; } = "http://127.0.0.1:0";

    /// <summary>
    /// The bearer token the admin endpoint asks for on every path but /healthz (at least 16 printable
    /// characters); none means no authentication. Prefer <see cref="AdminTokenFile"/>: a file readable by
    /// root only keeps the token out of the configuration and the environment.
    /// </summary>
    public string? AdminToken { get; set; }

    /// <summary>A file whose first line is the admin token (mode 0600, owner root).</summary>
    public string? AdminTokenFile { get; set; }

    /// <summary>The certificate of an https admin URL: PEM (key in <see cref="AdminCertificateKey"/> or the same file) or PKCS#12 without password.</summary>
    public string? AdminCertificate { get; set; }

    /// <summary>The PEM private key of <see cref="AdminCertificate"/> when it is not in the same file.</summary>
    public string? AdminCertificateKey { get; set; }

    /// <summary>Simulated guests in the embedded demo.</summary>
    public int Demo { get; set; } = 4;

    /// <summary>text or json.</summary>
    public string LogFormat { get; set; } = "text";

    /// <summary>Verbose, Debug, Information, Warning, Error.</summary>
    public string LogLevel { get; set; } = "Information";

    /// <summary>Frames queued per vif for a guest that posts no rx buffers.</summary>
    public int RxQueueLength { get; set; } = 512;

    /// <summary>
    /// Bytes queued per vif for such a guest (Linux's XENVIF_RX_QUEUE_BYTES); raised per vif to what
    /// SIMXEN's promises need (BackendOptions.RxQueueBytesFor), so it bites on frames larger than the MTU only.
    /// </summary>
    public int RxQueueBytes { get; set; } = 512 * 1024;

    /// <summary>
    /// Linux's <c>rx_stall_timeout_msecs</c>: a guest that leaves frames waiting this long for RX buffers it
    /// does not post has its vif's carrier turned off until it posts again; 0 never does.
    /// </summary>
    public int RxStallTimeoutMs { get; set; } = 60_000;

    /// <summary>Linux's <c>rx_drain_timeout_msecs</c>: a frame that has waited this long in a vif's RX queue is dropped.</summary>
    public int RxDrainTimeoutMs { get; set; } = 10_000;

    /// <summary>Pinned hypercall actors (grant-copy threads); 0 means one per core.</summary>
    public int HypercallThreads { get; set; }

    /// <summary>
    /// Linux's <c>xenvif_max_queues</c>, published as <c>multi-queue-max-queues</c>: the most queues a
    /// frontend may ask for; 0 means one per data-path lane, at most 8 (decision 81).
    /// </summary>
    public int MaxQueues { get; set; }

    /// <summary>
    /// locked (a vif's frames must carry its configured <c>mac</c> as source; others are dropped and
    /// counted) or any (a guest that bridges or routes). In-process bridges only; uplinks learn any source.
    /// </summary>
    public string BridgeSourceMac { get; set; } = "locked";

    /// <summary>MAC table entries per in-process bridge; when full, new sources are not learned (they are flooded to).</summary>
    public int BridgeMaxMacs { get; set; } = Backend.Actors.Bridge.BridgeOptions.DefaultMaxMacs;

    /// <summary>Print one summary line per second (the demo always does).</summary>
    public bool Summary { get; set; }

    /// <summary>
    /// auto (tap on real Xen, inproc under SIMXEN), tap (a persistent TAP per vif, for the host's own
    /// bridge) or inproc (the daemon's learning bridges, which uplinks join).
    /// </summary>
    public string Switch { get; set; } = "auto";

    /// <summary>Uplinks into the host stack, each <c>tap:NAME[@BRIDGE][,linux-bridge=BR]</c> (inproc switch only).</summary>
    public List<string> Uplinks { get; set; } = [];

    /// <summary>The fleet (Akka.Cluster); off by default.</summary>
    public ClusterSettings Cluster { get; set; } = new();

    public const int MaxSimRootLength = 79;
}
