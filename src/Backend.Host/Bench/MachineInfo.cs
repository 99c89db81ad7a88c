using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Backend.Host.Bench;

/// <summary>What the figures were measured on: they mean nothing without it.</summary>
internal sealed record MachineInfo(string Cpu, int Cores, string Kernel, string Runtime, string Build, string LoadAverageAtStart, long MemoryMiB)
{
    public static MachineInfo Describe()
    {
        var cpu = "unknown";
        if (File.Exists("/proc/cpuinfo"))
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } line
                ? line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()
                : "unknown";
        }
        var kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : RuntimeInformation.OSDescription;
        var load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024);
        return new MachineInfo(cpu, Environment.ProcessorCount, kernel, RuntimeInformation.FrameworkDescription, BuildConfiguration(), load, memory);
    }

    /// <summary>Release or Debug, from the JIT optimisation flag the compiler left on this assembly.</summary>
    public static string BuildConfiguration()
    {
        var debuggable = typeof(MachineInfo).Assembly.GetCustomAttribute<System.Diagnostics.DebuggableAttribute>();
        return debuggable is { IsJITOptimizerDisabled: true } ? "Debug" : "Release";
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Cpu}, {Cores} cores, {MemoryMiB} MiB, Linux {Kernel}, {Runtime}, {Build} build, load average at start {LoadAverageAtStart}");
}
