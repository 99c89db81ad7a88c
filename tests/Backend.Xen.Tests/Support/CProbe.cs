using System.Diagnostics;

namespace Backend.Xen.Tests.Support;

/// <summary>
/// Compiles a small C program with gcc against the system headers and returns what it prints. Used to
/// check our struct layouts and constants against Xen's and Linux's own headers.
/// </summary>
public static class CProbe
{
    public static string CompileAndRun(string source, params string[] requiredHeaders)
    {
        var gcc = Prerequisite.RequireExecutable("gcc", "gcc");
        foreach (var header in requiredHeaders)
            Prerequisite.RequireFile(header, header.StartsWith("/usr/include/xen/", StringComparison.Ordinal) ? "libxen-dev" : "linux-libc-dev");

        var dir = Directory.CreateTempSubdirectory("xnb-probe-");
        try
        {
            var c = Path.Combine(dir.FullName, "probe.c");
            var exe = Path.Combine(dir.FullName, "probe");
            File.WriteAllText(c, source);
            var (code, output) = Run(gcc, $"-Wall -Werror -o \"{exe}\" \"{c}\"");
            Assert.True(code == 0, $"the C probe did not compile:\n{output}");
            (code, output) = Run(exe, "");
            Assert.True(code == 0, $"the C probe failed ({code}):\n{output}");
            return output;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static (int Code, string Output) Run(string file, string arguments)
    {
        using var p = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>Parses "name value" lines into a dictionary.</summary>
    public static Dictionary<string, long> ParseValues(string output)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', 2, StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && long.TryParse(parts[1], out var v))
                values[parts[0]] = v;
        }
        return values;
    }
}
