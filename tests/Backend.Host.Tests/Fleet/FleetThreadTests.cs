using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Backend.Host.Fleet;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Fleet;

/// <summary>The fleet's executor: one thread, lower priority, no spinning, nothing lost.</summary>
public sealed class FleetThreadTests
{
    private sealed class Work(Action action) : IRunnable
    {
        public void Run() => action();

        public void Execute() => action();
    }

    private sealed record WhereAmI;

    private sealed class ReportThread : ReceiveActor
    {
        public ReportThread() => Receive<WhereAmI>(_ => Sender.Tell((Thread.CurrentThread.Name, ThreadNice.Current())));
    }

    [Fact]
    public async Task Actors_on_the_fleet_dispatcher_and_akkas_internal_dispatcher_run_on_a_fleet_thread_at_the_process_priority()
    {
        using var system = ActorSystem.Create("fleet-thread", ConfigurationFactory.ParseString(FleetDispatcher.Hocon));
        foreach (var dispatcher in new[] { FleetDispatcher.Id, "akka.actor.internal-dispatcher" })
        {
            var actor = system.ActorOf(Props.Create<ReportThread>().WithDispatcher(dispatcher));
            var (name, nice) = await actor.Ask<(string?, int)>(new WhereAmI(), TimeSpan.FromSeconds(5));
            Assert.Equal("xnb-fleet", name);
            // Not lowered: a thread started from it would inherit the lower priority (decision 80).
            Assert.Equal(ThreadNice.OfProcess(Environment.ProcessId).Single(t => t.Tid == Environment.ProcessId).Nice, nice);
        }
        await system.Terminate();
    }

    [Fact]
    public void An_idle_fleet_thread_sleeps_instead_of_spinning()
    {
        var executor = new FleetThread("test");
        try
        {
            var tid = 0;
            using var done = new ManualResetEventSlim();
            for (var i = 0; i < 100; i++)
                executor.Execute(new Work(() => tid = ThreadNice.ThreadId()));
            executor.Execute(new Work(done.Set));
            Assert.True(done.Wait(TimeSpan.FromSeconds(5)));
            Thread.Sleep(200);
            var before = TaskSample(tid);
            Thread.Sleep(1000);
            var after = TaskSample(tid);
            // A spinning thread burns its core (100 ticks a second) or switches hundreds of times a second.
            Assert.True(after.CpuTicks - before.CpuTicks <= 1, $"idle fleet thread used {after.CpuTicks - before.CpuTicks} ticks in 1 s");
            Assert.True(after.Switches - before.Switches <= 3, $"idle fleet thread switched {after.Switches - before.Switches} times in 1 s");
        }
        finally
        {
            executor.Shutdown();
        }
    }

    [Fact]
    public void Work_from_several_threads_all_runs_once_and_in_order_per_producer()
    {
        var executor = new FleetThread("test");
        try
        {
            const int PerProducer = 20_000;
            var seen = new ConcurrentDictionary<int, List<int>>();
            using var done = new CountdownEvent(2 * PerProducer);
            Parallel.For(0, 2, producer =>
            {
                var list = seen.GetOrAdd(producer, _ => []);
                for (var i = 0; i < PerProducer; i++)
                {
                    var n = i;
                    executor.Execute(new Work(() => { list.Add(n); done.Signal(); }));
                    // Let the thread go to sleep now and then, so work also arrives while it is on its way there.
                    if (i % 997 == 0)
                        Thread.Sleep(1);
                }
            });
            Assert.True(done.Wait(TimeSpan.FromSeconds(10)), $"{done.CurrentCount} runs never ran");
            foreach (var list in seen.Values)
                Assert.Equal(Enumerable.Range(0, PerProducer), list);
        }
        finally
        {
            executor.Shutdown();
        }
    }

    [Fact]
    public void A_run_that_throws_is_counted_and_the_thread_goes_on_and_a_shut_down_thread_refuses_work()
    {
        var executor = new FleetThread("test");
        using var done = new ManualResetEventSlim();
        executor.Execute(new Work(() => throw new InvalidOperationException("escaped")));
        executor.Execute(new Work(done.Set));
        Assert.True(done.Wait(TimeSpan.FromSeconds(5)));
        Assert.Equal(1, executor.Escaped);
        executor.Shutdown();
        Assert.Throws<RejectedExecutionException>(() => executor.Execute(new Work(() => { })));
    }

    private static (long CpuTicks, long Switches) TaskSample(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // utime and stime are fields 14 and 15; the split starts at field 3.
        var ticks = long.Parse(fields[14 - 3]) + long.Parse(fields[15 - 3]);
        long switches = 0;
        foreach (var line in File.ReadLines($"/proc/self/task/{tid}/status"))
            if (line.StartsWith("voluntary_ctxt_switches:") || line.StartsWith("nonvoluntary_ctxt_switches:"))
                switches += long.Parse(line[(line.IndexOf(':') + 1)..].Trim());
        return (ticks, switches);
    }
}
