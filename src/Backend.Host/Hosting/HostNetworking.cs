using Akka.Actor;
using Backend.Actors;
using Backend.Actors.HostNetwork;
using Backend.Actors.Uplink;
using Backend.Xen.Platform.Linux;

namespace Backend.Host.Hosting;

/// <summary>
/// The daemon's side of the host network: which switch the vifs use (<c>--switch</c>), the shared TAP
/// poll thread when any TAP is used, and the uplinks' devices (<c>--uplink</c>), opened before the actors
/// start and closed (not deleted: they are persistent) after the actors stop.
/// </summary>
public sealed class HostNetworking : IDisposable
{
    private readonly List<(UplinkSpec Spec, TapDevice Tap, TapPortCounters Counters)> _uplinks;

    private HostNetworking(SwitchMode mode, HostTaps? taps, List<(UplinkSpec, TapDevice, TapPortCounters)> uplinks)
    {
        Switch = mode;
        Taps = taps;
        _uplinks = uplinks;
    }

    public SwitchMode Switch { get; }

    public HostTaps? Taps { get; }

    /// <summary>Resolves the switch and opens every uplink; throws <see cref="StartupException"/> naming the one that failed.</summary>
    public static HostNetworking Open(DaemonSettings settings, XenEnvironment xen)
    {
        var mode = settings.Switch switch
        {
            "tap" => SwitchMode.Tap,
            "inproc" => SwitchMode.InProcess,
            // Real Xen's vifs belong on the host's bridges (vif-bridge puts them there); SIMXEN has only ours.
            _ => xen.Simulated ? SwitchMode.InProcess : SwitchMode.Tap,
        };
        if (mode == SwitchMode.Tap && settings.Uplinks.Count > 0)
            throw new StartupException("--uplink: uplinks join the in-process bridge, and the switch is tap (the default on real Xen): add --switch inproc");

        var uplinks = new List<(UplinkSpec, TapDevice, TapPortCounters)>();
        try
        {
            foreach (var text in settings.Uplinks)
            {
                if (!UplinkSpec.TryParse(text, out var spec, out var why))
                    throw new StartupException($"--uplink '{text}': {why}");
                try
                {
                    uplinks.Add((spec!, UplinkDevice.Open(spec!), new TapPortCounters()));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    throw new StartupException($"--uplink {spec}: cannot set up the TAP: {ex.Message}");
                }
            }
        }
        catch
        {
            foreach (var (_, tap, _) in uplinks)
                tap.Dispose();
            throw;
        }
        var taps = mode == SwitchMode.Tap || uplinks.Count > 0 ? new HostTaps() : null;
        return new HostNetworking(mode, taps, uplinks);
    }

    /// <summary>One <see cref="UplinkActor"/> per uplink, at the top of the actor tree.</summary>
    public void StartUplinks(ActorSystem system, BackendServices services)
    {
        foreach (var (spec, tap, counters) in _uplinks)
            system.ActorOf(UplinkActor.Props(spec, tap, services, counters), $"uplink-{tap.Name}");
    }

    /// <summary>The uplinks as <c>GET /status</c> shows them: bridge, TAP and counters, read live.</summary>
    public IReadOnlyList<Admin.UplinkStatusDocument> UplinkStatus()
    {
        var uplinks = new List<Admin.UplinkStatusDocument>(_uplinks.Count);
        foreach (var (spec, tap, counters) in _uplinks)
            uplinks.Add(new Admin.UplinkStatusDocument(spec.Bridge, Admin.TapCountersDocument.From(tap.Name, counters)));
        return uplinks;
    }

    public void Dispose()
    {
        Taps?.Dispose();
        foreach (var (_, tap, _) in _uplinks)
            tap.Dispose();
    }
}
