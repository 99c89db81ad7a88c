using System.Collections.Concurrent;
using Akka.Dispatch;

namespace Backend.Host.Fleet;

/// <summary>
/// The executor of the fleet's dispatcher (<see cref="FleetDispatcher"/>): one dedicated thread that runs the
/// remoting, cluster and DistributedData actors and sleeps in the kernel when it has nothing to do. Akka's executors all spin before they sleep (the thread
/// pool's and the channel executor's workers, the dedicated pools' workers with <c>sched_yield</c>): with the
/// cluster on, an idle daemon made 1,840 thread-pool context switches a second against 70 with it off, and on
/// a two-core dom0 every spin is a core the lanes and the guests do not get. Gossip, heartbeats and replication
/// are a few messages a second; they can wait a scheduler slice, a frame cannot.
/// </summary>
/// <remarks>
/// No spin: the thread waits on an <see cref="AutoResetEvent"/>, which on Linux is a condition variable.
/// It runs at the process's priority, on purpose: it ran at nice 10 at first, and Linux gives a new thread
/// the nice value of the thread that creates it, so every thread Akka started from the fleet thread (the
/// data path's lanes among them: Akka starts a dispatcher's threads on first use, from whichever thread
/// uses it) ran at nice 10 too, and 1-pair ping-pong p99 was 25–36 % higher with the cluster on (decision
/// 80). A thread that sleeps when idle needs no lower priority to leave the data path alone. A run that throws is Akka's to report (its mailbox runs catch what actors throw); anything
/// that escapes would end the thread, so it is caught and counted here rather than losing the fleet.
/// </remarks>
public sealed class FleetThread : ExecutorService
{
    private readonly ConcurrentQueue<IRunnable> _work = new();
    private readonly AutoResetEvent _signal = new(false);
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _waiting;
    private long _escaped;

    public FleetThread(string id) : base(id)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "xnb-fleet" };
        _thread.Start();
    }

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
