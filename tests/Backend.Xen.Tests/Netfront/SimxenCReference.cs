using System.Diagnostics;

namespace Backend.Xen.Tests.Netfront;

/// <summary>
/// The C reference of SIMXEN (<c>/work/shared/simxen-c</c>: cback, sxtool), built once per test process
/// with its own build.sh into a private folder. Tests that use it need gcc and libxen-dev.
/// </summary>
public static class SimxenCReference
{
    public const string SourceDirectory = "/work/shared/simxen-c";

    private static readonly Lock Gate = new();
    private static string? _buildDirectory;

    /// <summary>Builds (once) and returns the folder holding cback, sxtool and sxtest.</summary>
    public static string Build()
    {
        Prerequisite.RequireExecutable("gcc", "gcc");
        Prerequisite.RequireFile("/usr/include/xenstore.h", "libxen-dev");
        Prerequisite.RequireFile("/usr/include/xen/io/netif.h", "libxen-dev");
        Prerequisite.RequireFile(Path.Combine(SourceDirectory, "build.sh"), "the simxen-c sources in /work/shared");
        lock (Gate)
        {
            if (_buildDirectory is not null)
                return _buildDirectory;
            // Keyed by the sources' hash and renamed into place when complete, so that later test runs (and
            // concurrent ones) reuse a finished build and never see a half-built one.
            var final = Path.Combine(Path.GetTempPath(), "xnb-netfront-cref-" + SourceHash());
            if (File.Exists(Path.Combine(final, "cback")) && File.Exists(Path.Combine(final, "sxtool")))
                return _buildDirectory = final;
            var dir = Directory.CreateTempSubdirectory("xnb-netfront-cref-build-").FullName;
            var psi = new ProcessStartInfo("/bin/bash", [Path.Combine(SourceDirectory, "build.sh")])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.Environment["BUILD"] = dir;
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"simxen-c/build.sh failed ({p.ExitCode}):\n{stderr}{stdout.Result}");
            try
            {
                Directory.Move(dir, final);
            }
            catch (IOException)
            {
                // Another test process finished the same build first: use its.
                Directory.Delete(dir, recursive: true);
            }
            return _buildDirectory = final;
        }
    }

    private static string SourceHash()
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(SourceDirectory).Order(StringComparer.Ordinal))
            sha.AppendData(File.ReadAllBytes(file));
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    /// <summary>Runs a tool to completion with XENSTORED_PATH set; returns exit code and output.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string executable, string xenstoreSocket, params string[] arguments)
    {
        var psi = new ProcessStartInfo(executable, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["XENSTORED_PATH"] = xenstoreSocket;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout + await stderr);
    }
}
