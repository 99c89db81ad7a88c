using System.Runtime.Versioning;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Packaging;

/// <summary>
/// Runs the package's maintainer scripts as dpkg would, against stand-ins for deb-systemd-helper,
/// deb-systemd-invoke and systemctl that record how they were called, so a test reads what the script
/// asked systemd to do without a systemd. "systemd is running" (/run/systemd/system) is a directory of
/// the test's in the copies of the scripts.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class MaintainerScripts : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"xnb-scripts-{Guid.NewGuid():N}");
    private readonly string _control;

    public MaintainerScripts(string controlDirectory)
    {
        _control = controlDirectory;
        Directory.CreateDirectory(Path.Combine(_directory, "bin"));
        Directory.CreateDirectory(Path.Combine(_directory, "run-systemd-system"));
        foreach (var tool in new[] { "deb-systemd-helper", "deb-systemd-invoke", "systemctl" })
        {
            var path = Path.Combine(_directory, "bin", tool);
            // was-enabled answers as the test says; every call is recorded as "tool args" (quiet flag left out).
            File.WriteAllText(path, $$"""
                #!/bin/sh
                args=$(echo "$*" | sed 's/--quiet //')
                echo "{{tool}} $args" >> "$XNB_SCRIPT_LOG"
                case "$args" in was-enabled*) exit "$XNB_WAS_ENABLED" ;; esac
                exit 0

                """);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/>; returns the recorded calls.</summary>
    public async Task<List<string>> RunAsync(string script, string[] args, bool wasEnabled = true)
    {
        var copy = Path.Combine(_directory, script);
        File.WriteAllText(copy, File.ReadAllText(Path.Combine(_control, script)).Replace("/run/systemd/system", Path.Combine(_directory, "run-systemd-system"), StringComparison.Ordinal));
        var log = Path.Combine(_directory, script + ".log");
        File.WriteAllText(log, "");
        var (code, _, stderr) = await Command.RunAsync("sh", ["-e", copy, .. args], TimeSpan.FromSeconds(30), environment: new Dictionary<string, string>
        {
            ["PATH"] = Path.Combine(_directory, "bin") + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["XNB_SCRIPT_LOG"] = log,
            ["XNB_WAS_ENABLED"] = wasEnabled ? "0" : "1",
            ["DPKG_ROOT"] = "",
        });
        Assert.True(code == 0, $"{script} {string.Join(' ', args)} exited {code}: {stderr}");
        return [.. File.ReadAllLines(log)];
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
    }
}
