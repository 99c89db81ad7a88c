using Akka.Actor;
using Akka.Event;
using Backend.Actors.Hypercall;

namespace Backend.Host.Systemd;

/// <summary>
/// Pings systemd's watchdog (WATCHDOG=1) only while the daemon can still do its work: every interval it
/// probes each lane's hypercall actor (<see cref="LaneProbe"/>) and pings once every lane has answered that
/// round. It runs on the control path (the default dispatcher), so a starved actor system sends no ping
/// either. A lane still silent at the next tick is held (a drain that does not return, a copy blocked in
/// the kernel): no new round starts, no ping goes out, and systemd restarts the daemon after WatchdogSec,
/// which re-attaches every guest as after any restart. The stall is logged once, and so is its end.
/// </summary>
public sealed class WatchdogActor : ReceiveActor, IWithTimers
{
    private readonly SystemdService _systemd;
    private readonly IReadOnlyList<HypercallLane> _lanes;
    private readonly TimeSpan _interval;
    private readonly bool[] _answered;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _round;
    private int _pending;
    private DateTime _roundStarted;
    private bool _withheld;

    public WatchdogActor(SystemdService systemd, IReadOnlyList<HypercallLane> lanes, TimeSpan interval)
    {
        _systemd = systemd;
        _lanes = lanes;
        _interval = interval;
        _answered = new bool[lanes.Count];
        Receive<Tick>(_ => OnTick());
        Receive<LaneProbe>(OnAnswer);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, _interval);
        StartRound();
    }

    private void OnTick()
    {
        if (_pending == 0)
        {
            StartRound();
            return;
        }
        // A periodic timer may deliver two ticks back to back (after a pause of this actor's thread): a round
        // started by the first is not late at the second. Judged by the round's age, not the tick count.
        if (_withheld || DateTime.UtcNow - _roundStarted < _interval)
            return;
        _withheld = true;
        _log.Warning("watchdog: lane(s) {0} have not answered for {1:F1} s; systemd watchdog pings withheld until they do",
            string.Join(", ", Silent()), (DateTime.UtcNow - _roundStarted).TotalSeconds);
    }

    private void OnAnswer(LaneProbe probe)
    {
        if (probe.Round != _round || probe.Lane < 0 || probe.Lane >= _answered.Length || _answered[probe.Lane])
            return;
        _answered[probe.Lane] = true;
        if (--_pending == 0)
            Completed();
    }

    private void StartRound()
    {
        _round++;
        _roundStarted = DateTime.UtcNow;
        Array.Clear(_answered);
        _pending = _lanes.Count;
        for (var i = 0; i < _lanes.Count; i++)
            _lanes[i].Copier.Tell(new LaneProbe(i, _round), Self);
        if (_pending == 0)
            Completed();
    }

    private void Completed()
    {
        if (_withheld)
        {
            _withheld = false;
            _log.Info("watchdog: every lane answers again after {0:F1} s; pings resumed", (DateTime.UtcNow - _roundStarted).TotalSeconds);
        }
        _systemd.Send(SystemdService.Watchdog);
    }

    private IEnumerable<int> Silent()
    {
        for (var i = 0; i < _answered.Length; i++)
            if (!_answered[i])
                yield return i;
    }

    public static Props Props(SystemdService systemd, IReadOnlyList<HypercallLane> lanes, TimeSpan interval) =>
        Akka.Actor.Props.Create(() => new WatchdogActor(systemd, lanes, interval));

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }
}
