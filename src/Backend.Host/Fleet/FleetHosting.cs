using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Backend.Host.Hosting;

namespace Backend.Host.Fleet;

/// <summary>
/// Akka.Remote and Akka.Cluster for the fleet, called by <see cref="DaemonHost"/> (the one place the actor
/// system is built) when <c>Cluster:Enabled</c>. The Split Brain Resolver keeps the majority and downs the
/// rest after <c>StableAfterSeconds</c>. A downed node does not stop its actor system: the cluster is a
/// view for admins, and a daemon that left it must go on serving its guests (it rejoins when restarted).
/// </summary>
public static class FleetHosting
{
    public static void Configure(AkkaConfigurationBuilder akka, ClusterSettings cluster, ClusterTls? tls)
    {
        var remote = new RemoteOptions { HostName = cluster.Hostname, Port = cluster.Port };
        if (tls is not null)
        {
            remote.EnableSsl = true;
            remote.Ssl = new SslOptions
            {
                X509Certificate = tls.Certificate,
                RequireMutualAuthentication = true,
                // Peers are named by IP in seeds; who they are is what their certificate chains to.
                ValidateCertificateHostname = false,
                CustomValidator = tls.Accepts,
            };
        }
        akka.WithRemoting(remote);
        akka.WithClustering(new ClusterOptions
        {
            SeedNodes = [.. cluster.Seeds],
            SplitBrainResolver = new KeepMajorityOption(),
        });
        akka.AddHocon(
            $"akka.cluster.split-brain-resolver.stable-after = {cluster.StableAfterSeconds}s\n" +
            "akka.cluster.run-coordinated-shutdown-when-down = off\n" +
            // Daemons started together (a rack's dom0s after a power cut) find no seed up on the first try;
            // Akka's default waits 10 s before the next one, which is most of the time the fleet takes to form.
            "akka.cluster.retry-unsuccessful-join-after = 3s\n" +
            // A seed asked before it had formed the fleet answers InitJoinNack, and the asker asks again after
            // seed-node-timeout: Akka's 5 s twice over was a three-daemon fleet forming in 9 s on a loaded
            // machine (FleetEndToEndTests, 1 run in 10 of tests/repeat-suite.sh). The InitJoin round is a few
            // small messages to the seeds, so asking every 2 s costs nothing.
            "akka.cluster.seed-node-timeout = 2s\n" +
            // Replicate the summaries about as often as they are written.
            "akka.cluster.distributed-data.gossip-interval = 1s\n" +
            // A seed that is down would otherwise be a warning every few seconds; FleetPublisher says it once.
            "akka.remote.log-remote-lifecycle-events = off\n" +
            FleetDispatcher.Hocon,
            HoconAddMode.Prepend);
    }
}
