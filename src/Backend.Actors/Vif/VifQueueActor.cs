using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Backend.Actors.Status;

namespace Backend.Actors.Vif;

/// <summary>
/// One queue of a vif in the actor tree (connection → <c>queue-N</c> → <c>tx</c>, <c>rx</c>), Linux's
/// <c>struct xenvif_queue</c>: the supervisor of the queue's two ring actors, which <see cref="VifQueue"/>
/// attaches to it. A bug in one of them restarts both (they share the queue's event channel and latch) and
/// nothing else: the vif's other queues, its bridge port and TAP keep running (decision 81). What its ring
/// actors tell their parent (a fatal error, an RX stall) goes on to the connection actor with the ring actor
/// as sender. It has no state of its own, so a restart of it keeps its children.
/// <para>
/// Past <see cref="MaxRestartsPerWindow"/> restarts within <see cref="RestartWindow"/> the ring actors stop
/// and the vif is disabled (decision 86; <see cref="VifProtocol.DisableVif"/>: its error node, its counter, its log line,
/// the carrier off), as for a fatal frontend error. Before, they stopped and the vif stayed Connected with a
/// queue nobody served: the guest's frames on that queue went nowhere and nothing said why.
/// </para>
/// </summary>
public sealed class VifQueueActor : ReceiveActor
{
    /// <summary>Restarts a queue may take within <see cref="RestartWindow"/> (Akka's limit before, kept).</summary>
    public const int MaxRestartsPerWindow = 10;

    public static readonly TimeSpan RestartWindow = TimeSpan.FromMinutes(1);

    private readonly VifStatus _status;
    private readonly VifLog _log;
    // The times of the restarts within the window, oldest at _oldest: a ring of its own rather than a
    // Queue<long>, whose code is in no ReadyToRun image, so that the first restart in a daemon's life does
    // not wait for the JIT (docs/reliability.md, "Which restarts are slow").
    private readonly long[] _restarts = new long[MaxRestartsPerWindow];
    private int _oldest;
    private int _restartCount;

    public VifQueueActor(VifStatus status)
    {
        _status = status;
        _log = new VifLog(Context.GetLogger(), status);
        Receive<VifProtocol.DisableVif>(m => Context.Parent.Forward(m));
        Receive<VifProtocol.RxStall>(m => Context.Parent.Forward(m));
    }

    public static Props Props(VifStatus status) => Akka.Actor.Props.Create(() => new VifQueueActor(status));

    protected override SupervisorStrategy SupervisorStrategy() =>
        // No limit of Akka's: the decider counts, so that the last failure can disable the vif.
        new AllForOneStrategy(ex =>
        {
            var now = Stopwatch.GetTimestamp();
            while (_restartCount > 0 && Stopwatch.GetElapsedTime(_restarts[_oldest], now) > RestartWindow)
            {
                _oldest = (_oldest + 1) % MaxRestartsPerWindow;
                _restartCount--;
            }
            if (_restartCount >= MaxRestartsPerWindow)
            {
                _log.DataPathGaveUp(ex, MaxRestartsPerWindow, RestartWindow);
                Context.Parent.Tell(new VifProtocol.DisableVif(
                    $"{Self.Path.Name}: data path failed {MaxRestartsPerWindow + 1} times within {RestartWindow.TotalSeconds:0} s ({ex.GetType().Name})"));
                return Directive.Stop;
            }
            _restarts[(_oldest + _restartCount) % MaxRestartsPerWindow] = now;
            _restartCount++;
            _status.BeginRestart();
            Interlocked.Increment(ref _status.Restarts);
            _log.DataPathFailed(ex);
            return Directive.Restart;
        });

    protected override void PreRestart(Exception reason, object message)
    {
        // Not the default, which stops the children: the ring actors are attached from outside and must outlive it.
    }
}
