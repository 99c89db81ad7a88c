using Akka.Actor;
using Akka.Event;
using Backend.Actors.Bridge;

namespace Backend.Actors.HostNetwork;

/// <summary>
/// A vif's port under <c>--switch tap</c>, in the place a bridge port has under the in-process switch:
/// the frames its TX ring actor produced are written to the vif's TAP, and the frames the host stack
/// sends to the TAP go, one batch per poll turn, straight to its RX ring actor (the reader's target).
/// </summary>
internal sealed class VifTapPortActor : ReceiveActor
{
    private readonly VifTap _tap;
    private readonly TapFrameReader _reader;
    private readonly HostTaps _taps;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public VifTapPortActor(VifTap tap, TapFrameReader reader, HostTaps taps)
    {
        _tap = tap;
        _reader = reader;
        _taps = taps;
        Receive<FrameBatch>(batch => TapWriter.Write(_tap.Device, batch, _tap.Counters));
        Receive<HostTaps.TapFaulted>(OnFaulted);
    }

    public static Props Props(VifTap tap, TapFrameReader reader, HostTaps taps) =>
        Akka.Actor.Props.Create(() => new VifTapPortActor(tap, reader, taps));

    protected override void PreStart() => _taps.Read(_tap.Device, _reader, Self);

    protected override void PostStop() => _taps.StopReading(_tap.Device);

    private void OnFaulted(HostTaps.TapFaulted fault)
    {
        // The device went away under us (someone deleted it): the guest's frames to the host are lost
        // until the vif reconnects and reads again; frames towards the host fail their writes and count.
        _reader.Carrier = false;
        _log.Error("{Tap}: reading the vif's TAP failed: {Reason}", fault.Device, fault.Reason);
    }
}
