using System.Collections.Concurrent;
using Akka.Dispatch;

namespace Backend.Host.Fleet;

/// <summary>
/// The executor of the fleet's dispatcher (<see cref="FleetDispatcher"/>): one dedicated thread that runs the
/// remoting, cluster and DistributedData actors, sleeps in the kernel when it has nothing to do, and runs at a
/// lower scheduling priority than the data path. Akka's executors all spin before they sleep (the thread
/// pool's and the channel executor's workers, the dedicated pools' workers with <c>sched_yield</c>): with the
/// cluster on, an idle daemon made 1,840 thread-pool context switches a second against 70 with it off, and on
/// a two-core dom0 every spin is a core the lanes and the guests do not get. Gossip, heartbeats and replication
/// are a few messages a second; they can wait a scheduler slice, a frame cannot.
/// </summary>
/// <remarks>
/// No spin: the thread waits on an <see cref="AutoResetEvent"/>, which on Linux is a condition variable.
/// The priority is the thread's nice value (<see cref="ThreadNice"/>): Linux schedules threads, so lowering
/// it for this thread leaves the rest of the process as it was. Under full load the fleet thread still gets
/// its fair share at that weight (about a tenth of a core at nice 10), enough for heartbeats to keep the node
/// reachable. A run that throws is Akka's to report (its mailbox runs catch what actors throw); anything
/// that escapes would end the thread, so it is caught and counted here rather than losing the fleet.
/// </remarks>
public sealed class FleetThread : ExecutorService
{
    private readonly ConcurrentQueue<IRunnable> _work = new();
    private readonly AutoResetEvent _signal = new(false);
    private readonly Thread _thread;
    private readonly int _nice;
    private volatile bool _stopping;
    private int _waiting;
    private long _escaped;

    public FleetThread(string id, int nice) : base(id)
    {
        _nice = nice;
        _thread = new Thread(Run) { IsBackground = true, Name = "xnb-fleet" };
        _thread.Start();
    }

    /// <summary>The nice value the thread asked for and got, or null while it has not started or if Linux refused.</summary>
    public int? AppliedNice { get; private set; }

    /// <summary>Runs that threw past Akka's own handling (none expected).</summary>
    public long Escaped => Interlocked.Read(ref _escaped);

    public override void Execute(IRunnable run)
    {
        if (_stopping)
            throw new RejectedExecutionException($"{Id} is shut down");
        _work.Enqueue(run);
        // Only a sleeping thread needs the kernel; a running one finds the work on its next dequeue.
        if (Volatile.Read(ref _waiting) == 1)
            _signal.Set();
    }

    public override void Shutdown()
    {
        _stopping = true;
        _signal.Set();
    }

    private void Run()
    {
        if (ThreadNice.TrySet(_nice))
            AppliedNice = _nice;
        while (true)
        {
            while (_work.TryDequeue(out var run))
            {
                try
                {
                    run.Run();
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref _escaped);
                }
            }
            if (_stopping)
                return;
            Volatile.Write(ref _waiting, 1);
            // Work queued between the last dequeue and the flag would otherwise wait for the next Execute.
            if (_work.IsEmpty && !_stopping)
                _signal.WaitOne();
            Volatile.Write(ref _waiting, 0);
        }
    }
}
