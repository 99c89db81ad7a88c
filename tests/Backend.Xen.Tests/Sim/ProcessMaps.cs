namespace Backend.Xen.Tests.Sim;

/// <summary>This process's memory mappings as <c>/proc/self/maps</c> lists them.</summary>
internal static class ProcessMaps
{
    /// <summary>How many mappings of the file at <paramref name="path"/> this process has.</summary>
    public static int Count(string path) =>
        File.ReadAllLines("/proc/self/maps").Count(l => l.EndsWith(path, StringComparison.Ordinal));
}
