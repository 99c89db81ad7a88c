namespace Backend.Xen.Xenbus;

/// <summary>
/// The features netback publishes in its backend directory before it first goes InitWait (Linux's
/// <c>netback_probe</c>), those of Linux's list that this backend implements, and beside them
/// <see cref="MaxQueuesKey"/>, whose value is the backend's setting (<see cref="VifBackend"/>).
/// </summary>
internal static class NetbackFeatures
{
    /// <summary>The most queues a frontend may ask for (Linux's <c>xenvif_max_queues</c>).</summary>
    public const string MaxQueuesKey = "multi-queue-max-queues";

    public static readonly IReadOnlyList<KeyValuePair<string, string>> All =
    [
        new("feature-sg", "1"),
        new("feature-gso-tcpv4", "1"),
        new("feature-gso-tcpv6", "1"),
        new("feature-ipv6-csum-offload", "1"),
        new("feature-rx-copy", "1"),
        new("feature-rx-flip", "0"),
        new("feature-split-event-channels", "1"),
        // Linux's provides_xdp_headroom (on by default): the frontend may set xdp-headroom (decision 78).
        new("feature-xdp-headroom", "1"),
        // Linux's netback_probe: the frontend may ask for multicast filtering (request-multicast-control),
        // and change its mind while connected: the backend watches the key (decision 83).
        new("feature-multicast-control", "1"),
        new("feature-dynamic-multicast-control", "1"),
        // The control ring (FrontendCtrlRing, Ctrl/CtrlRequestHandler): hashing set by the frontend (decision 82).
        new("feature-ctrl-ring", "1"),
    ];
}
