using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;

namespace Backend.Host.Fleet;

/// <summary>
/// What <c>GET /fleet</c> (and the status page) show: every member as this node's Akka.Cluster sees it
/// (status, reachability, leader), with the summary it last published. This host's own summary is taken
/// fresh. With the cluster off, this host alone.
/// </summary>
public sealed class FleetView
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);

    private readonly Func<FleetHostDocument> _summary;
    private readonly Func<ActorSystem>? _system;

    /// <param name="system">The actor system once started; null: the cluster is off.</param>
    public FleetView(Func<FleetHostDocument> summary, Func<ActorSystem>? system)
    {
        _summary = summary;
        _system = system;
    }

    public bool Enabled => _system is not null;

    public async Task<FleetDocument> ReadAsync(CancellationToken cancellationToken)
    {
        if (_system is null)
            return new FleetDocument(false, FleetDocument.LocalAddress,
                [new FleetMemberDocument(FleetDocument.LocalAddress, "Up", true, true, true, _summary())]);

        var system = _system();
        var cluster = Cluster.Get(system);
        var state = cluster.State;
        LWWDictionary<string, string>? data = null;
        var partial = false;
        try
        {
            var response = await DistributedData.Get(system).Replicator.Ask<IGetResponse>(
                Dsl.Get(FleetPublisher.Key, ReadLocal.Instance), AskTimeout, cancellationToken);
            if (response is GetSuccess success)
                data = success.Get(FleetPublisher.Key);
        }
        catch (AskTimeoutException)
        {
            // A replicator that does not answer (a daemon starved of CPU) must not turn the page into an
            // error: the members and their reachability are this node's own view, only the others' vifs are missing.
            partial = true;
            Serilog.Log.Warning("fleet: the replicated summaries did not answer within {Seconds} s; /fleet shows the members without the other hosts' vifs", AskTimeout.TotalSeconds);
        }

        var self = cluster.SelfAddress;
        var members = new List<FleetMemberDocument>();
        foreach (var m in state.Members.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal))
        {
            var address = m.Address.ToString();
            FleetHostDocument? host = null;
            if (m.Address.Equals(self))
                host = _summary();
            else if (data is not null && data.TryGetValue(address, out var json))
                host = FleetPublisher.Parse(json);
            members.Add(new FleetMemberDocument(address, m.Status.ToString(), !state.Unreachable.Contains(m), m.Address.Equals(self),
                state.Leader is { } leader && leader.Equals(m.Address), host));
        }
        // Not yet a member (joining, or the fleet cannot form): this host still answers for itself.
        if (!members.Exists(m => m.Self))
            members.Insert(0, new FleetMemberDocument(self.ToString(), cluster.SelfMember.Status.ToString(), true, true, false, _summary()));
        return new FleetDocument(true, self.ToString(), members, partial);
    }
}
