using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;

namespace Backend.Host.Fleet;

/// <summary>
/// Publishes this host's summary into the fleet's replicated data, once a second, from the control path:
/// the summary is built from <see cref="Backend.Actors.Status.VifStatusRegistry"/>'s snapshot (what
/// <c>/status</c> reads), so no ring actor is asked anything. The data is one <see cref="LWWDictionary{TKey,TValue}"/>
/// keyed by node address, its values the summary as JSON (a string: Akka's own serializers carry it, no
/// serializer of ours to register or version). Each node writes only its own entry; the leader also
/// removes the entries of nodes that are no longer members (a node removed, whether it left or the Split
/// Brain Resolver downed it), on its next tick — so a leader change loses no removal.
/// It also says, once, when the fleet cannot be joined, and when this node was removed from it.
/// </summary>
public sealed class FleetPublisher : ReceiveActor, IWithTimers
{
    /// <summary>The fleet's one replicated key.</summary>
    public static readonly LWWDictionaryKey<string, string> Key = new("xnb-fleet");

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Func<FleetHostDocument> _summary;
    private readonly TimeSpan _joinWarningAfter;
    private readonly Cluster _cluster;
    private readonly IActorRef _replicator;
    private readonly string _self;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly DateTime _started = DateTime.UtcNow;
    private bool _joined;
    private bool _warnedNotJoined;

    public FleetPublisher(Func<FleetHostDocument> summary, TimeSpan interval, TimeSpan joinWarningAfter, IReadOnlyList<string> seeds)
    {
        _summary = summary;
        _joinWarningAfter = joinWarningAfter;
        _cluster = Cluster.Get(Context.System);
        _replicator = DistributedData.Get(Context.System).Replicator;
        _self = _cluster.SelfAddress.ToString();
        Interval = interval;

        Receive<Tick>(_ => OnTick(seeds));
        Receive<ClusterEvent.MemberUp>(up => OnUp(up.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(up => OnUp(up.Member));
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (removed.Member.UniqueAddress.Equals(_cluster.SelfUniqueAddress))
                _log.Warning("cluster: this node was removed from the fleet (downed by the Split Brain Resolver, or left); it keeps serving its guests; restart the daemon to rejoin");
        });
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
        Receive<UpdateSuccess>(_ => { });
        Receive<IUpdateFailure>(failure => _log.Debug("cluster: publishing the summary failed: {0}", failure));
    }

    public TimeSpan Interval { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Func<FleetHostDocument> summary, TimeSpan interval, TimeSpan joinWarningAfter, IReadOnlyList<string> seeds) =>
        Akka.Actor.Props.Create(() => new FleetPublisher(summary, interval, joinWarningAfter, seeds));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberWeaklyUp), typeof(ClusterEvent.MemberRemoved));
        Timers.StartPeriodicTimer("publish", Tick.Instance, TimeSpan.Zero, Interval);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void OnUp(Member member)
    {
        if (_joined || !member.UniqueAddress.Equals(_cluster.SelfUniqueAddress))
            return;
        _joined = true;
        _log.Info("cluster: joined the fleet as {0}", _self);
    }

    private void OnTick(IReadOnlyList<string> seeds)
    {
        if (!_joined && !_warnedNotJoined && DateTime.UtcNow - _started >= _joinWarningAfter)
        {
            _warnedNotJoined = true;
            _log.Warning("cluster: not joined after {0} s: no seed node answered ({1}); serving this host's guests as usual, still trying",
                (int)_joinWarningAfter.TotalSeconds, string.Join(", ", seeds));
        }

        var summary = JsonSerializer.Serialize(_summary(), Json);
        var state = _cluster.State;
        HashSet<string>? members = null;
        if (state.Leader is { } leader && leader.Equals(_cluster.SelfAddress))
        {
            members = [];
            foreach (var m in state.Members)
                if (m.Status != MemberStatus.Removed)
                    members.Add(m.Address.ToString());
        }
        var cluster = _cluster;
        var self = _self;
        _replicator.Tell(Dsl.Update(Key, LWWDictionary<string, string>.Empty, WriteLocal.Instance, data =>
        {
            data = data.SetItem(cluster, self, summary);
            if (members is not null)
                foreach (var key in data.Keys)
                    if (!members.Contains(key) && key != self)
                        data = data.Remove(cluster, key);
            return data;
        }));
    }

    /// <summary>The publishing timer's message.</summary>
    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    /// <summary>Reads a published summary back; null when it is not one (a newer or broken publisher).</summary>
    public static FleetHostDocument? Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<FleetHostDocument>(json, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
