using System.Globalization;

namespace Backend.Host.Bench;

/// <summary>
/// A backend process's CPU use so far, from procfs: <c>utime + stime</c> of <c>/proc/PID/stat</c> (every
/// thread, the exited ones included), and the context switches of its live threads
/// (<c>voluntary_ctxt_switches + nonvoluntary_ctxt_switches</c> of each <c>/proc/PID/task/TID/status</c>;
/// <c>/proc/PID/status</c> alone counts the main thread's). Two samples around a workload give its cost.
/// </summary>
internal readonly record struct ProcessCpuSample(double CpuSeconds, long ContextSwitches)
{
    /// <summary>Linux's USER_HZ, the unit of procfs's times, fixed at 100 by the kernel's ABI for every architecture.</summary>
    private const double UserHz = 100;

    public static ProcessCpuSample Read(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        long switches = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                switches += ContextSwitchesOf(File.ReadAllLines(Path.Combine(task, "status")));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The thread exited between the listing and the read: its switches are not counted.
            }
        }
        return new ProcessCpuSample(CpuSecondsOf(stat), switches);
    }

    /// <summary>utime (field 14) + stime (field 15) of a <c>/proc/PID/stat</c> line, in seconds; the fields are counted after the command's closing parenthesis, which may itself hold spaces and parentheses.</summary>
    public static double CpuSecondsOf(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state): utime is field 14, stime field 15.
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / UserHz;
    }

    /// <summary>voluntary + nonvoluntary context switches of one <c>status</c> file's lines.</summary>
    public static long ContextSwitchesOf(IEnumerable<string> status)
    {
        long switches = 0;
        foreach (var line in status)
        {
            if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                switches += long.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
        }
        return switches;
    }

    /// <summary>What the process used between <paramref name="before"/> and this sample, per frame of <paramref name="frames"/>.</summary>
    public BackendCpu Since(ProcessCpuSample before, long frames)
    {
        var seconds = CpuSeconds - before.CpuSeconds;
        var switches = ContextSwitches - before.ContextSwitches;
        return new BackendCpu
        {
            CpuSeconds = seconds,
            UsPerFrame = frames == 0 ? null : seconds * 1e6 / frames,
            ContextSwitchesPer1000Frames = frames == 0 ? null : switches * 1000.0 / frames,
        };
    }
}
