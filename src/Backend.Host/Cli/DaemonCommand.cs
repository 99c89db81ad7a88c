using System.CommandLine;
using Backend.Host.Admin;
using Backend.Host.Fleet;
using Backend.Host.Hosting;
using Backend.Host.Sim;
using Backend.Host.Systemd;
using Backend.Xen.Platform;
using Backend.Xen.Platform.Linux;
using Serilog;

namespace Backend.Host.Cli;

/// <summary>The root command: run the daemon (or, with no Xen and no --sim-root, the embedded demo).</summary>
public static class DaemonCommand
{
    public static RootCommand Create()
    {
        var config = new Option<string?>("--config") { Description = "A JSON settings file (section \"Xnb\"), applied after appsettings.json." };
        var xen = new Option<string?>("--xen") { Description = "auto (default), linux or sim." };
        var simRoot = new Option<string?>("--sim-root") { Description = "SIMXEN root directory (at most 79 characters); serve its vifs, no demo guests." };
        var domid = new Option<int?>("--domid") { Description = "The backend's domain id (default: read from xenstore on real Xen, 0 under SIMXEN)." };
        var xenstore = new Option<string?>("--xenstore") { Description = "xenstore socket to use instead of ROOT/xenstored.sock." };
        var admin = new Option<string?>("--admin") { Description = "Admin endpoint URL (default http://127.0.0.1:0, a free loopback port)." };
        var adminTokenFile = new Option<string?>("--admin-token-file") { Description = "A file (mode 0600) whose first line is the bearer token the admin endpoint asks for." };
        var adminCertificate = new Option<string?>("--admin-certificate") { Description = "Certificate of an https admin URL: PEM, or PKCS#12 without password." };
        var adminCertificateKey = new Option<string?>("--admin-certificate-key") { Description = "PEM private key of --admin-certificate, when not in the same file." };
        var demo = new Option<int?>("--demo") { Description = "Simulated guests in the embedded demo (default 4)." };
        var logFormat = new Option<string?>("--log-format") { Description = "text (default) or json." };
        var logLevel = new Option<string?>("--log-level") { Description = "Verbose, Debug, Information (default), Warning, Error." };
        var summary = new Option<bool>("--summary") { Description = "Print one summary line per second." };
        var switchMode = new Option<string?>("--switch") { Description = "auto (default: tap on real Xen, inproc under SIMXEN), tap (a TAP per vif) or inproc (in-process bridges)." };
        var uplink = new Option<string[]>("--uplink") { Description = "tap:NAME[@BRIDGE][,linux-bridge=BR]: a TAP into the host stack on that in-process bridge (default xenbr0); repeatable." };

        var root = new RootCommand("xnb: a userspace Xen network backend (netback) daemon.")
        {
            config, xen, simRoot, domid, xenstore, admin, adminTokenFile, adminCertificate, adminCertificateKey, demo, logFormat, logLevel, summary, switchMode, uplink,
        };
        root.SetAction(async (parse, cancellationToken) =>
        {
            DaemonSettings settings;
            try
            {
                settings = SettingsLoader.Load(parse.GetValue(config));
            }
            catch (StartupException ex)
            {
                Console.Error.WriteLine($"xnb: {ex.Message}");
                return 2;
            }
            settings.Xen = parse.GetValue(xen) ?? settings.Xen;
            settings.SimRoot = parse.GetValue(simRoot) ?? settings.SimRoot;
            settings.DomId = parse.GetValue(domid) ?? settings.DomId;
            settings.XenStore = parse.GetValue(xenstore) ?? settings.XenStore;
            settings.Admin = parse.GetValue(admin) ?? settings.Admin;
            settings.AdminTokenFile = parse.GetValue(adminTokenFile) ?? settings.AdminTokenFile;
            settings.AdminCertificate = parse.GetValue(adminCertificate) ?? settings.AdminCertificate;
            settings.AdminCertificateKey = parse.GetValue(adminCertificateKey) ?? settings.AdminCertificateKey;
            settings.Demo = parse.GetValue(demo) ?? settings.Demo;
            settings.LogFormat = parse.GetValue(logFormat) ?? settings.LogFormat;
            settings.LogLevel = parse.GetValue(logLevel) ?? settings.LogLevel;
            settings.Summary |= parse.GetValue(summary);
            settings.Switch = parse.GetValue(switchMode) ?? settings.Switch;
            if (parse.GetValue(uplink) is { Length: > 0 } uplinks)
                settings.Uplinks = [.. uplinks];
            return await RunAsync(settings, cancellationToken);
        });
        return root;
    }

    public static async Task<int> RunAsync(DaemonSettings settings, CancellationToken cancellationToken)
    {
        var errors = new List<string>(DaemonSettingsValidator.Validate(settings));
        var warnings = new List<string>();
        using var access = errors.Count == 0 ? AdminAccess.Load(settings, errors, warnings) : null;
        using var clusterTls = errors.Count == 0 ? ClusterTls.Load(settings.Cluster.Tls, errors, warnings) : null;
        if (errors.Count > 0)
        {
            foreach (var error in errors)
                Console.Error.WriteLine($"xnb: {error}");
            return 2;
        }
        Logging.Configure(settings.LogFormat, settings.LogLevel);
        foreach (var warning in warnings)
            Log.Warning("{Warning}", warning);
        try
        {
            return await RunValidatedAsync(settings, access!, clusterTls, cancellationToken);
        }
        catch (StartupException ex)
        {
            Log.Error("cannot start: {Reason}", ex.Message);
            Console.Error.WriteLine($"xnb: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }

    private static async Task<int> RunValidatedAsync(DaemonSettings settings, AdminAccess access, ClusterTls? clusterTls, CancellationToken cancellationToken)
    {
        XenPlatformKind kind;
        try
        {
            kind = XenPlatformDetector.Detect(settings.Xen == "auto" ? null : settings.Xen);
        }
        catch (XenPlatformUnavailableException ex)
        {
            throw new StartupException(ex.Message);
        }

        string? demoRoot = null;
        if (kind == XenPlatformKind.Simulated && settings.SimRoot is null)
        {
            demoRoot = $"/dev/shm/xnb-demo-{Environment.ProcessId}";
            Console.Out.WriteLine($"SIMXEN_ROOT={demoRoot}");
            Console.Out.Flush();
        }

        await using var xen = await XenEnvironment.OpenAsync(settings, demoRoot, cancellationToken);
        await using var host = DaemonHost.Create(settings, xen, access, clusterTls);
        await host.StartAsync(cancellationToken);
        Console.Out.WriteLine($"ADMIN_URL={host.AdminUrl}");
        if (xen.SimRoot is { } root)
            await File.WriteAllTextAsync(root.DomainFile(xen.Platform.BackendDomId, "admin-url"), host.AdminUrl + "\n", CancellationToken.None);
        Log.Information("xnb serving {Xen} as domain {DomId}; admin endpoint {AdminUrl}", xen.Describe(), xen.Platform.BackendDomId, host.AdminUrl);
        if (AdminExposure.Warning(settings.Admin, access.Token is not null) is { } exposed)
            Log.Warning("{Warning}", exposed);

        await host.Ready.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        Console.Out.WriteLine("READY");
        Console.Out.Flush();
        var systemd = SystemdService.FromEnvironment();
        systemd.Ready();
        var watchdog = host.StartWatchdog(systemd);
        if (systemd.WatchdogInterval is { } interval)
            Log.Information("systemd watchdog: a ping every {Interval} s while every lane answers", interval.TotalSeconds);
        using var benchStats = Bench.BenchStatsHook.StartIfEnabled();

        DemoHost? demo = null;
        if (demoRoot is not null && settings.Demo > 0)
            demo = await DemoHost.StartAsync(xen, settings.Demo, cancellationToken);
        try
        {
            if (demoRoot is not null || settings.Summary)
                await SummaryPrinter.RunAsync(host.Status, demo, cancellationToken);
            else
                await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Log.Information("stopping");
            if (watchdog is not null)
                await StopWatchdogAsync(watchdog);
            systemd.Stopping();
            if (demo is not null)
                await demo.DisposeAsync();
            await host.StopAsync(CancellationToken.None);
        }
        return 0;
    }

    /// <summary>No WATCHDOG=1 after STOPPING=1: the pinger is stopped first (it is on the control path, so this is quick).</summary>
    private static async Task StopWatchdogAsync(Akka.Actor.IActorRef watchdog)
    {
        bool stopped;
        try
        {
            stopped = await Akka.Actor.GracefulStopSupport.GracefulStop(watchdog, TimeSpan.FromSeconds(2));
        }
        catch (TaskCanceledException)
        {
            stopped = false;
        }
        if (!stopped)
            Log.Warning("systemd watchdog: the pinger did not stop within 2 s");
    }
}
