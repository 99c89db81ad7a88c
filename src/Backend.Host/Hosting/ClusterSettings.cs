namespace Backend.Host.Hosting;

/// <summary>
/// Settings section <c>Cluster</c>: the fleet of daemons on Akka.Cluster (off by default). Every node's
/// actor system is named <c>xnb</c>, so a seed is <c>akka.tcp://xnb@HOST:PORT</c>.
/// </summary>
public sealed class ClusterSettings
{
    /// <summary>Join a fleet; off: no remoting port is opened at all.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// The address remoting listens on and that the other nodes reach this one at (it is the node's name
    /// in the cluster, so a wildcard such as 0.0.0.0 is refused). Loopback by default: a fleet is opted into.
    /// </summary>
    public string Hostname { get; set; } = "127.0.0.1";

    /// <summary>The remoting TCP port.</summary>
    public int Port { get; set; } = 4053;

    /// <summary>Seed nodes, <c>akka.tcp://xnb@HOST:PORT</c>; the first node of a fleet lists itself first.</summary>
    public List<string> Seeds { get; set; } = [];

    /// <summary>
    /// How long the Split Brain Resolver waits for a stable view before it downs unreachable nodes
    /// (keep-majority); Akka's default is 20 s. Tests shorten it.
    /// </summary>
    public int StableAfterSeconds { get; set; } = 20;

    /// <summary>TLS for remoting; none: plain TCP (a trusted management network only).</summary>
    public ClusterTlsSettings Tls { get; set; } = new();
}
