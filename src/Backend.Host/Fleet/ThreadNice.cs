using System.Runtime.InteropServices;

namespace Backend.Host.Fleet;

/// <summary>
/// The calling thread's nice value. .NET's <see cref="Thread.Priority"/> does nothing on Linux, but Linux keeps a
/// nice value per thread (<c>setpriority(PRIO_PROCESS, gettid(), n)</c> acts on that thread alone), and raising
/// it needs no privilege.
/// </summary>
internal static partial class ThreadNice
{
    private const int PrioProcess = 0;

    /// <summary>Sets the calling thread's nice value; false where Linux (or another OS) refuses.</summary>
    public static bool TrySet(int nice)
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            return SetPriority(PrioProcess, (uint)GetTid(), nice) == 0;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The calling thread's nice value, or null off Linux.</summary>
    public static int? Current()
    {
        if (!OperatingSystem.IsLinux())
            return null;
        // getpriority can return -1 legitimately; the thread's stat file cannot be ambiguous.
        var stat = File.ReadAllText($"/proc/self/task/{GetTid()}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields after the command name start at field 3 (state); nice is field 19.
        return int.Parse(fields[19 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The calling thread's id as Linux names it in <c>/proc/self/task</c>.</summary>
    public static int ThreadId() => GetTid();

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, uint who, int prio);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();
}
