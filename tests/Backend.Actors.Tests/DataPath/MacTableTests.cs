using Akka.Actor;
using Backend.Actors.Bridge;

namespace Backend.Actors.Tests.DataPath;

/// <summary>
/// The forwarder's MAC table on its own: keyed by the MAC as a ulong, grown and shrunk whole, entries
/// removed by rebuilding, and read by other threads while it changes.
/// </summary>
public sealed class MacTableTests
{
    private static readonly BridgePort Port = new(1, "vif1.0", ActorRefs.Nobody);

    private static MacEntry Entry(ulong mac) => new(mac, Port, 0);

    [Fact]
    public void Every_added_mac_is_found_through_growth_and_an_unknown_one_is_not()
    {
        var table = new MacTable();
        var entries = new List<MacEntry>();
        for (ulong i = 0; i < 5000; i++)
        {
            // Neighbouring MACs, as a toolstack hands them out, and 0 itself (a key like any other).
            var entry = Entry(0x00163E000000UL + i * 0x10000UL);
            table.Add(entry);
            entries.Add(entry);
        }
        table.Add(Entry(0));
        Assert.Equal(5001, table.Count);
        foreach (var entry in entries)
            Assert.Same(entry, table.Find(entry.Mac));
        Assert.NotNull(table.Find(0));
        Assert.Null(table.Find(0x00163E000001UL));
    }

    [Fact]
    public void Removing_keeps_every_other_entry_findable_and_shrinks_the_table()
    {
        var table = new MacTable();
        for (ulong i = 1; i <= 1000; i++)
            table.Add(Entry(i));
        Assert.Equal(500, table.RemoveWhere(static (e, _) => e.Mac % 2 == 0, 0));
        Assert.Equal(500, table.Count);
        for (ulong i = 1; i <= 1000; i++)
            Assert.True((table.Find(i) is not null) == (i % 2 == 1), $"MAC {i} should be {(i % 2 == 1 ? "kept" : "removed")}");

        Assert.Equal(499, table.RemoveWhere(static (e, _) => e.Mac != 7, 0));
        Assert.Equal(0, table.RemoveWhere(static (e, _) => e.Mac == 8, 0));
        Assert.Equal(1, table.Count);
        Assert.NotNull(table.Find(7));
        // Room for more again after shrinking.
        for (ulong i = 100; i < 200; i++)
            table.Add(Entry(i));
        Assert.Equal(101, table.Count);
        Assert.NotNull(table.Find(150));
    }

    [Fact]
    public async Task Readers_on_other_threads_find_every_mac_that_stays_while_the_table_grows_and_rebuilds()
    {
        var table = new MacTable();
        var gate = new Lock();
        for (ulong i = 1; i <= 64; i++)
            table.Add(Entry(i)); // 1 to 64 stay throughout
        using var done = new CancellationTokenSource();
        using var reading = new CountdownEvent(2);
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var misses = 0L;
            var first = true;
            while (first || !done.IsCancellationRequested)
            {
                for (ulong i = 1; i <= 64; i++)
                {
                    if (table.Find(i)?.Mac != i)
                        misses++;
                }
                if (first)
                    reading.Signal();
                first = false;
            }
            return misses;
        })).ToArray();
        Assert.True(reading.Wait(TimeSpan.FromSeconds(30)), "the readers should have started");

        // One writer at a time, as the bridge's lock makes it: thousands of MACs come and go.
        for (var round = 0; round < 200; round++)
        {
            lock (gate)
            {
                for (ulong i = 1000; i < 1200; i++)
                    table.Add(Entry(i));
            }
            lock (gate)
                table.RemoveWhere(static (e, _) => e.Mac >= 1000, 0);
        }
        await done.CancelAsync();
        var misses = await Task.WhenAll(readers);
        Assert.Equal([0L, 0L], misses);
        Assert.Equal(64, table.Count);
    }
}
