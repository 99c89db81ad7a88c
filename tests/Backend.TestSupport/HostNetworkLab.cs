using System.Diagnostics;

namespace Backend.TestSupport;

/// <summary>
/// What a test needs of the host's network: a network namespace of its own (<c>xnbt-&lt;random&gt;</c>),
/// `ip` and `ping` run with a bound on time, and the prerequisites (root, /dev/net/tun, iproute2,
/// iputils-ping; <see cref="Prerequisite"/>: under CI a missing one fails the test, elsewhere it skips).
/// Dispose removes the namespace, and with it every device still inside.
/// </summary>
/// <remarks>
/// A vif's TAP is named after its domain (<c>vif3051.0</c>), and the test projects run at once against one
/// kernel, so every test that makes a vif TAP takes domain ids no other test takes, in any project:
/// 3011 UplinkTests, 3021 DaemonUplinkTests, 3031/3032/3038/3039 and 3041 TapSwitchTests, 3051
/// DaemonTapSwitchTests, 3061 RxStallTests. (RxStallTests and DaemonTapSwitchTests both took 3051: when
/// they overlapped, one's TUNSETIFF found the device busy, or the other's vif never got its TAP.)
/// </remarks>
public sealed class HostNetworkLab : IDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);

    private HostNetworkLab(string ns) => Namespace = ns;

    public string Namespace { get; }

    public static string RandomName(string prefix) => prefix + Random.Shared.Next().ToString("x8");

    public static void RequirePrerequisites()
    {
        string? missing = null;
        if (Environment.UserName != "root")
            missing = "root (network namespaces and TAP devices)";
        else if (!File.Exists("/dev/net/tun"))
            missing = "/dev/net/tun (modprobe tun)";
        else if (!File.Exists("/usr/bin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/sbin/ip"))
            missing = "iproute2 (ip)";
        else if (!File.Exists("/usr/bin/ping") && !File.Exists("/bin/ping"))
            missing = "iputils-ping (ping)";
        Prerequisite.Require(missing is null, missing!);
    }

    public static HostNetworkLab Create()
    {
        var lab = new HostNetworkLab(RandomName("xnbt-"));
        Run("ip", "netns", "add", lab.Namespace);
        try
        {
            lab.InNamespace("ip", "link", "set", "lo", "up");
        }
        catch
        {
            lab.Dispose();
            throw;
        }
        return lab;
    }

    /// <summary>Runs <c>ip</c> in the root namespace.</summary>
    public static string Ip(params string[] args) => Run("ip", args);

    /// <summary>Runs a command inside the namespace (<c>ip netns exec</c>).</summary>
    public string InNamespace(params string[] command) => Run("ip", ["netns", "exec", Namespace, .. command]);

    /// <summary>Moves a device of the root namespace into ours (the daemon's descriptor on a TAP stays valid).</summary>
    public void MoveIn(string device) => Run("ip", "link", "set", device, "netns", Namespace);

    /// <summary>Moves a device in (<see cref="MoveIn"/>), gives it <paramref name="address"/> (CIDR) and sets it up.</summary>
    public void MoveInAndAddress(string device, string address)
    {
        MoveIn(device);
        InNamespace("ip", "addr", "add", address, "dev", device);
        InNamespace("ip", "link", "set", device, "up");
    }

    /// <summary>
    /// Pings <paramref name="address"/> from inside the namespace until <paramref name="count"/> echo
    /// requests are answered or <paramref name="deadline"/> passes (ping's <c>-w</c>: it goes on sending
    /// every 200 ms meanwhile); <c>Ok</c> only when all <paramref name="count"/> were answered.
    /// </summary>
    /// <remarks>
    /// Awaited, not waited for: the answers come from actors and a simulated guest on this process's
    /// thread pool, and a thread blocked on ping is one fewer to run them. With ping's default end (it
    /// leaves 200 ms after its last request once it has any answer) a blocked pool thread and another
    /// test's made answers late, not lost: the uplink test saw 2 of 5, and the guest had answered all 5
    /// by a second later (docs/reliability.md, "The uplink's late answers").
    /// </remarks>
    public async Task<(bool Ok, string Output)> PingAsync(string address, int count, TimeSpan deadline)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(deadline.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await RunAsync("ip", ["netns", "exec", Namespace, "ping", "-c", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", "0.2", "-w", seconds, address]).ConfigureAwait(false);
    }

    public bool HasDevice(string device) => TryRun("ip", ["-n", Namespace, "link", "show", device], out _);

    public static string Run(string file, params string[] args)
    {
        if (!TryRun(file, args, out var output))
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {output}");
        return output;
    }

    public static bool TryRun(string file, string[] args, out string output)
    {
        using var process = Start(file, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill(entireProcessTree: true);
            output = $"timed out after {CommandTimeout.TotalSeconds} s";
            return false;
        }
        output = stdout.Result + stderr.Result;
        return process.ExitCode == 0;
    }

    private static async Task<(bool Ok, string Output)> RunAsync(string file, string[] args)
    {
        using var process = Start(file, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (false, $"timed out after {CommandTimeout.TotalSeconds} s");
        }
        return (process.ExitCode == 0, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }

    private static Process Start(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        return Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
    }

    public void Dispose() => TryRun("ip", ["netns", "del", Namespace], out _);
}
