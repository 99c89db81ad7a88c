using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Cli;

/// <summary>Bad settings get one clear line each and a non-zero exit, never a stack trace.</summary>
public sealed class CommandLineTests
{
    private static async Task<(int Code, string Stderr)> Run(params string[] args)
    {
        await using var daemon = DaemonProcess.Start(args);
        var code = await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30));
        return (code, daemon.Stderr);
    }

    [Fact]
    public async Task Each_bad_value_gets_its_own_line_naming_the_setting()
    {
        var (code, stderr) = await Run("--domid", "40000", "--admin", "ftp://x", "--log-format", "xml", "--sim-root", "/dev/shm/" + new string('x', 90));
        Assert.Equal(2, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("DomId (--domid)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Admin (--admin)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("LogFormat (--log-format)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("SimRoot (--sim-root)", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--faults", "garbage", "--faults takes kinds among")]
    [InlineData("--faults", "ring-fault,garbage", "--faults takes kinds among")]
    [InlineData("--faults", ",", "--faults takes kinds among")]
    [InlineData("--seconds", "1", "--seconds 5..86400")]
    [InlineData("--rate", "0", "--rate 10..100000")]
    public async Task A_bad_soak_option_is_one_clear_line_before_anything_runs(string option, string value, string expected)
    {
        var (code, stderr) = await Run("soak", option, value, "--dry-run");
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task An_unknown_key_in_a_config_file_is_a_clear_error()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """{ "Xnb": { "Admn": "http://127.0.0.1:0" } }""");
            var (code, stderr) = await Run("--config", file);
            Assert.Equal(2, code);
            Assert.Contains("Admn", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_malformed_value_in_the_environment_is_a_clear_error()
    {
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add(DaemonProcess.HostDll);
        info.Environment["XNB_DOMID"] = "zero";
        using var p = System.Diagnostics.Process.Start(info)!;
        var stderr = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("DomId", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Asking_for_real_Xen_where_there_is_none_is_one_clear_line()
    {
        Skip.If(File.Exists("/dev/xen/gntdev"), "this machine has Xen");
        var (code, stderr) = await Run("--xen", "linux");
        Assert.Equal(1, code);
        Assert.Contains("/dev/xen/gntdev", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
