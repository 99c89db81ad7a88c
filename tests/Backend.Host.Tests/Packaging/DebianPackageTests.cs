using System.Reflection.PortableExecutable;
using System.Runtime.Versioning;
using System.Xml.Linq;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Packaging;

/// <summary>
/// Issue 17, part 2: deploy/build-deb.sh builds a package Debian's lintian finds no error in, laid out as
/// an administrator expects, whose daemon runs, and whose maintainer scripts keep the restart promise (an
/// upgrade restarts a running daemon and never stops it in prerm).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class DebianPackageTests(DebianPackage package) : IClassFixture<DebianPackage>
{
    [SkippableFact]
    public async Task Lintian_reports_no_error_on_the_package()
    {
        var deb = await package.BuildAsync();
        var (code, stdout, stderr) = await Command.RunAsync("lintian", ["--tag-display-limit", "0", deb], TimeSpan.FromMinutes(5));
        var errors = stdout.Split('\n').Where(l => l.StartsWith("E:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0 && code == 0, $"lintian exit {code}:\n{stdout}\n{stderr}");
    }

    [SkippableFact]
    public async Task The_package_is_named_by_the_version_and_holds_a_self_contained_ReadyToRun_daemon_in_opt()
    {
        var deb = await package.BuildAsync();
        var version = XDocument.Load(Path.Combine(DebianPackage.Repository, "Directory.Build.props")).Descendants("Version").Single().Value;
        Assert.Equal($"xnb_{version}_amd64.deb", Path.GetFileName(deb));

        var opt = Path.Combine(package.Unpacked, "opt", "xnb");
        Assert.True((File.GetUnixFileMode(Path.Combine(opt, "Backend.Host")) & UnixFileMode.UserExecute) != 0, "the daemon is executable");
        Assert.Contains("\"includedFrameworks\"", File.ReadAllText(Path.Combine(opt, "Backend.Host.runtimeconfig.json")), StringComparison.Ordinal);
        using (var pe = new PEReader(File.OpenRead(Path.Combine(opt, "Backend.Host.dll"))))
            Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, "Backend.Host.dll is ReadyToRun code");
        Assert.False(File.Exists(Path.Combine(opt, "libcoreclrtraceptprovider.so")), "the LTTng provider (needs liblttng-ust) is left out");

        Assert.Equal("/opt/xnb/Backend.Host", new FileInfo(Path.Combine(package.Unpacked, "usr", "bin", "xnb")).LinkTarget);
        Assert.Equal(["/etc/xnb/xnb.json", "/etc/modprobe.d/xnb.conf"], File.ReadAllLines(Path.Combine(package.ControlDirectory, "conffiles")));
        Assert.Equal(File.ReadAllText(Path.Combine(DebianPackage.Repository, "deploy", "modprobe.d", "xnb.conf")),
            File.ReadAllText(Path.Combine(package.Unpacked, "etc", "modprobe.d", "xnb.conf")));

        var unit = File.ReadAllLines(Path.Combine(package.Unpacked, "usr", "lib", "systemd", "system", "xnb.service"));
        Assert.Contains("Type=notify", unit);
        Assert.Contains("NotifyAccess=main", unit);
        Assert.Contains(unit, l => l.StartsWith("WatchdogSec=", StringComparison.Ordinal));
        Assert.Contains("ExecStart=/opt/xnb/Backend.Host --config /etc/xnb/xnb.json", unit);
    }

    [SkippableFact]
    public async Task The_packaged_daemon_runs_through_a_symlink_with_the_packaged_settings()
    {
        await package.BuildAsync();
        using var root = new SimTestRoot();
        var link = Path.Combine(Path.GetTempPath(), $"xnb-{Guid.NewGuid():N}");
        File.CreateSymbolicLink(link, Path.Combine(package.Unpacked, "opt", "xnb", "Backend.Host"));
        try
        {
            // The packaged settings are for real Xen on a fixed port; the command line overrides both.
            await using var daemon = DaemonProcess.StartProgram(link, new Dictionary<string, string>(),
                "--config", Path.Combine(package.Unpacked, "etc", "xnb", "xnb.json"), "--xen", "sim", "--sim-root", root.Path, "--admin", "http://127.0.0.1:0");
            await daemon.WaitForLineAsync("READY", TimeSpan.FromSeconds(60));
            daemon.Signal(15);
            Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            File.Delete(link);
        }
    }

    [SkippableFact]
    public async Task On_upgrade_prerm_leaves_the_daemon_running_and_postinst_try_restarts_it()
    {
        await package.BuildAsync();
        using var scripts = new MaintainerScripts(package.ControlDirectory);
        Assert.DoesNotContain(await scripts.RunAsync("prerm", ["upgrade", "0.1.1"]), l => l.StartsWith("deb-systemd-invoke", StringComparison.Ordinal));
        var postinst = await scripts.RunAsync("postinst", ["configure", "0.0.9"]);
        Assert.Contains("deb-systemd-invoke try-restart xnb.service", postinst);
        Assert.DoesNotContain(postinst, l => l is "deb-systemd-invoke start xnb.service" or "deb-systemd-invoke restart xnb.service" or "deb-systemd-invoke stop xnb.service");
    }

    [SkippableFact]
    public async Task A_first_install_enables_and_starts_the_unit_and_an_administrators_disable_is_kept_on_upgrade()
    {
        await package.BuildAsync();
        using var scripts = new MaintainerScripts(package.ControlDirectory);
        var install = await scripts.RunAsync("postinst", ["configure", ""]);
        Assert.Contains("deb-systemd-helper enable xnb.service", install);
        Assert.Contains("deb-systemd-invoke start xnb.service", install);

        var disabled = await scripts.RunAsync("postinst", ["configure", "0.0.9"], wasEnabled: false);
        Assert.DoesNotContain("deb-systemd-helper enable xnb.service", disabled);
        Assert.Contains("deb-systemd-helper update-state xnb.service", disabled);
    }

    [SkippableFact]
    public async Task Removing_the_package_stops_the_daemon_and_purging_forgets_the_unit()
    {
        await package.BuildAsync();
        using var scripts = new MaintainerScripts(package.ControlDirectory);
        Assert.Contains("deb-systemd-invoke stop xnb.service", await scripts.RunAsync("prerm", ["remove"]));
        Assert.Contains("deb-systemd-helper mask xnb.service", await scripts.RunAsync("postrm", ["remove"]));
        Assert.Contains("deb-systemd-helper purge xnb.service", await scripts.RunAsync("postrm", ["purge"]));
    }
}
