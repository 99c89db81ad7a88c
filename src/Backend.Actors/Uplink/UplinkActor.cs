using Akka.Actor;
using Akka.Event;
using Backend.Actors.Bridge;
using Backend.Actors.HostNetwork;
using Backend.Xen.Platform.Linux;

namespace Backend.Actors.Uplink;

/// <summary>
/// Joins the host's Linux network stack to one in-process learning bridge through a TAP: a port of that
/// bridge like a vif's. Frames the host sends into the TAP are read by the shared poll thread into pooled
/// buffers and forwarded, one batch per poll turn, by a <see cref="BridgePortActor"/> of the uplink's
/// port; frames the bridge sends to the port come here and are written to the TAP. The virtio-net header
/// carries checksum and GSO state both ways (<see cref="TapOffload"/>).
/// </summary>
/// <remarks>
/// The TAP is opened by whoever starts this actor (<see cref="UplinkDevice.Open"/>) and outlives its
/// restarts; a restart only re-joins the bridge and re-registers the reader.
/// </remarks>
public sealed class UplinkActor : ReceiveActor
{
    private readonly UplinkSpec _spec;
    private readonly TapDevice _tap;
    private readonly BackendServices _services;
    private readonly HostTaps _taps;
    private readonly TapPortCounters _counters;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly int _mtu;
    private LearningBridge _bridge = null!;
    private BridgePort? _port;

    public UplinkActor(UplinkSpec spec, TapDevice tap, BackendServices services, TapPortCounters counters)
    {
        _spec = spec;
        _tap = tap;
        _services = services;
        _taps = services.Taps ?? throw new ArgumentException("an uplink needs the TAP service (BackendServices.Taps)", nameof(services));
        _counters = counters;
        // Read once: after a move to another network namespace the device is no longer in our sysfs.
        _mtu = tap.Mtu;

        Receive<FrameBatch>(batch => TapWriter.Write(_tap, batch, _counters));
        Receive<HostTaps.TapFaulted>(OnFaulted);
    }

    public static Props Props(UplinkSpec spec, TapDevice tap, BackendServices services, TapPortCounters counters) =>
        Akka.Actor.Props.Create(() => new UplinkActor(spec, tap, services, counters));

    protected override void PreStart()
    {
        FrameBatchReclaimer.For(Context.System);
        _bridge = _services.Bridges.Get(_spec.Bridge);
        var port = _port = _bridge.AddPort($"uplink:{_tap.Name}", Self);
        port.Mtu = _mtu;
        // Bounds for the frames on their way to the TAP (this actor) and from it (the forwarding actor);
        // both ways they may be GSO frames.
        port.Backlog = _services.Options.NewBacklog(_mtu, gso: true);
        var forward = Context.ActorOf(BridgePortActor.Props(_bridge, port, _services.Buffers), "forward");
        var reader = new TapFrameReader(_services.Buffers, forward, _counters) { Carrier = true, Backlog = _services.Options.NewBacklog(_mtu, gso: true) };
        port.Connected = true;
        _taps.Read(_tap, reader, Self);
        _log.Info("uplink {Tap} joins bridge '{Bridge}'{LinuxBridge}, mtu {Mtu}", _tap.Name, _spec.Bridge,
            _spec.LinuxBridge is null ? "" : $" and Linux bridge {_spec.LinuxBridge}", _mtu);
    }

    protected override void PostStop()
    {
        _taps.StopReading(_tap);
        if (_port is not null)
        {
            _port.Connected = false;
            _bridge.RemovePort(_port);
        }
    }

    private void OnFaulted(HostTaps.TapFaulted fault)
    {
        // The device is gone or broken (deleted under us, say): stop offering the port rather than spin.
        if (_port is not null)
            _port.Connected = false;
        _log.Error("uplink {Tap}: reading the TAP failed, uplink down: {Reason}", fault.Device, fault.Reason);
    }
}
