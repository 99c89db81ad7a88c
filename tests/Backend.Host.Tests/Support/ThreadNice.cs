using System.Globalization;
using System.Runtime.InteropServices;

namespace Backend.Host.Tests.Support;

/// <summary>
/// Threads' nice values as Linux keeps them (per thread: <c>/proc/&lt;pid&gt;/task/&lt;tid&gt;/stat</c>, field 19).
/// .NET's <see cref="Thread.Priority"/> does nothing on Linux; a thread inherits the nice value of the thread
/// that created it, which is what the fleet's tests look for (decision 80).
/// </summary>
internal static partial class ThreadNice
{
    /// <summary>The calling thread's nice value.</summary>
    public static int Current() => Read($"/proc/self/task/{GetTid()}/stat").Nice;

    /// <summary>The calling thread's id as Linux names it in <c>/proc/self/task</c>.</summary>
    public static int ThreadId() => GetTid();

    /// <summary>Every thread of process <paramref name="pid"/> with its name and nice value (threads that end meanwhile are left out).</summary>
    public static IReadOnlyList<(int Tid, string Name, int Nice)> OfProcess(int pid)
    {
        var threads = new List<(int, string, int)>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var (name, nice) = Read(Path.Combine(task, "stat"));
                threads.Add((int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture), name, nice));
            }
            catch (IOException)
            {
            }
        }
        return threads;
    }

    private static (string Name, int Nice) Read(string statPath)
    {
        var stat = File.ReadAllText(statPath);
        // The name is in parentheses and may hold spaces; the fields after it start at field 3 (state).
        var open = stat.IndexOf('(');
        var close = stat.LastIndexOf(')');
        var fields = stat[(close + 2)..].Split(' ');
        return (stat[(open + 1)..close], int.Parse(fields[19 - 3], CultureInfo.InvariantCulture));
    }

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();
}
