using Backend.Actors.Bridge;

namespace Backend.Host.Admin;

/// <summary>
/// A vif's port on its learning bridge in <c>GET /status</c>, since the vif's current connection: frames
/// the bridge handed to the vif, to it alone (<see cref="Forwarded"/>) or as a copy of a broadcast or
/// unknown unicast (<see cref="Flooded"/>), and frames for it dropped there (longer than its MTU + 14,
/// while it was not Connected, or while its backlog of frames on their way to it was full); and frames
/// from it dropped for a source MAC other than its configured <c>mac</c> (<see cref="DroppedSpoofed"/>,
/// setting <c>BridgeSourceMac</c>=locked), shorter than an Ethernet header (<see cref="DroppedRunt"/>), sent
/// back towards the port they came from (<see cref="DroppedHairpin"/>), or flooded with no other port to
/// take them (<see cref="DroppedNoPort"/>): every frame the bridge drops is in one of these.
/// </summary>
public sealed record BridgePortDocument(long Forwarded, long Flooded, long DroppedMtu, long DroppedDown, long DroppedBacklog, long DroppedSpoofed,
    long DroppedRunt, long DroppedHairpin, long DroppedNoPort)
{
    public static BridgePortDocument From(BridgePort p) => new(
        Interlocked.Read(ref p.FramesForwarded), Interlocked.Read(ref p.FramesFlooded),
        Interlocked.Read(ref p.FramesDroppedMtu), Interlocked.Read(ref p.FramesDroppedDown),
        Interlocked.Read(ref p.FramesDroppedBacklog),
        Interlocked.Read(ref p.FramesDroppedSpoofed),
        Interlocked.Read(ref p.FramesDroppedRunt), Interlocked.Read(ref p.FramesDroppedHairpin),
        Interlocked.Read(ref p.FramesDroppedNoPort));
}
