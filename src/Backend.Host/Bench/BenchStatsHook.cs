using System.Globalization;
using System.Runtime.InteropServices;

namespace Backend.Host.Bench;

/// <summary>
/// A bench hook in the daemon, off unless <c>XNBBENCH_STATS=1</c>: on SIGUSR1 it prints one line
/// <c>XNBBENCH_STATS {json}</c> to stderr with the process's allocations (<c>GC.GetTotalAllocatedBytes(true)</c>,
/// all threads), collection counts, managed heap and <c>Private_Dirty</c>, so that the bench can measure the
/// daemon from outside without changing its admin endpoint. What the hook allocates to report is subtracted;
/// the runtime's own signal dispatch (a few hundred bytes per signal) is not.
/// </summary>
internal sealed class BenchStatsHook : IDisposable
{
    public const string EnvironmentVariable = "XNBBENCH_STATS";
    public const string LinePrefix = "XNBBENCH_STATS ";

    /// <summary>SIGUSR1 on Linux; PosixSignalRegistration takes raw signal numbers on Unix.</summary>
    public const int SigUsr1 = 10;

    private readonly PosixSignalRegistration _registration;
    private readonly Lock _gate = new();
    private long _ownBytes;

    private BenchStatsHook() => _registration = PosixSignalRegistration.Create((PosixSignal)SigUsr1, OnSignal);

    /// <summary>The hook when <c>XNBBENCH_STATS=1</c>, else null.</summary>
    public static BenchStatsHook? StartIfEnabled() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) == "1" ? new BenchStatsHook() : null;

    public void Dispose() => _registration.Dispose();

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        lock (_gate)
        {
            var start = GC.GetAllocatedBytesForCurrentThread();
            var privateDirty = ReadPrivateDirtyKiB();
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var own = _ownBytes + (GC.GetAllocatedBytesForCurrentThread() - start);
            var gen0 = GC.CollectionCount(0);
            var gen1 = GC.CollectionCount(1);
            var gen2 = GC.CollectionCount(2);
            var heap = GC.GetTotalMemory(forceFullCollection: false);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{LinePrefix}{{\"allocatedBytes\":{allocated - own},\"gen0\":{gen0},\"gen1\":{gen1},\"gen2\":{gen2},\"managedHeapBytes\":{heap},\"privateDirtyKiB\":{privateDirty}}}"));
            Console.Error.Flush();
            _ownBytes += GC.GetAllocatedBytesForCurrentThread() - start;
        }
    }

    /// <summary><c>Private_Dirty</c> of <c>/proc/self/smaps_rollup</c> in KiB, or -1 when the kernel has no such file.</summary>
    public static long ReadPrivateDirtyKiB() => ReadPrivateDirtyKiB("/proc/self/smaps_rollup");

    public static long ReadPrivateDirtyKiB(string smapsRollup)
    {
        if (!File.Exists(smapsRollup))
            return -1;
        foreach (var line in File.ReadLines(smapsRollup))
        {
            if (!line.StartsWith("Private_Dirty:", StringComparison.Ordinal))
                continue;
            var value = line.AsSpan("Private_Dirty:".Length).Trim();
            var space = value.IndexOf(' ');
            return long.Parse(space < 0 ? value : value[..space], NumberStyles.None, CultureInfo.InvariantCulture);
        }
        return -1;
    }
}
