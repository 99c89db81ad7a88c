using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting.Systemd;
using Serilog;

namespace Backend.Host.Systemd;

/// <summary>
/// The daemon's side of systemd's notify protocol (<c>Type=notify</c>): READY=1 once the xenstore watch is
/// set (the moment SIMXEN's READY line is printed), WATCHDOG=1 from <see cref="WatchdogActor"/> while the
/// actor system and every lane answer, STOPPING=1 when an orderly stop begins. The datagrams are sent by
/// Microsoft.Extensions.Hosting.Systemd's <see cref="SystemdNotifier"/> (NOTIFY_SOCKET, abstract sockets
/// included); its <c>SystemdLifetime</c> is not used because it says READY when the host has started,
/// before our watch is set. Without NOTIFY_SOCKET (not under systemd, or not Type=notify) nothing is sent.
/// </summary>
public sealed class SystemdService(ISystemdNotifier notifier, TimeSpan? watchdogInterval)
{
    public static readonly ServiceState Watchdog = new("WATCHDOG=1");

    public ISystemdNotifier Notifier { get; } = notifier;

    /// <summary>How often to ping the watchdog (half of WATCHDOG_USEC, as sd_watchdog_enabled advises); null: no watchdog.</summary>
    public TimeSpan? WatchdogInterval { get; } = notifier.IsEnabled ? watchdogInterval : null;

    public static SystemdService FromEnvironment() =>
        new(new SystemdNotifier(), WatchdogIntervalFrom(Environment.GetEnvironmentVariable, Environment.ProcessId));

    /// <summary>
    /// As sd_watchdog_enabled(3): WATCHDOG_USEC set to a positive number, and WATCHDOG_PID, when set, naming
    /// this process (a watchdog meant for a parent or a child is not ours). Pings go at half the timeout.
    /// </summary>
    public static TimeSpan? WatchdogIntervalFrom(Func<string, string?> environment, int processId)
    {
        if (!ulong.TryParse(environment("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec == 0)
            return null;
        if (environment("WATCHDOG_PID") is { } pid && pid != processId.ToString(CultureInfo.InvariantCulture))
            return null;
        return TimeSpan.FromMicroseconds(usec / 2.0);
    }

    public void Ready() => Send(ServiceState.Ready);

    public void Stopping() => Send(ServiceState.Stopping);

    /// <summary>
    /// Sends <paramref name="state"/>; a service manager that went away is said, not thrown: the daemon's
    /// guests must not lose their backend because systemd's socket did.
    /// </summary>
    public bool Send(ServiceState state)
    {
        try
        {
            Notifier.Notify(state);
            return true;
        }
        catch (SocketException ex)
        {
            Log.Warning("systemd: cannot send {State} to NOTIFY_SOCKET: {Reason}", state.ToString().TrimEnd(), ex.Message);
            return false;
        }
    }
}
