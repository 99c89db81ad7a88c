using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Rings;
using Backend.Actors.Status;
using Backend.Xen.Buffers;
using Backend.Xen.Platform;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;

namespace Backend.Actors;

/// <summary>What every vif's actors share: Xen, xenstore, the bridges, buffers, hypercall actors, status.</summary>
public sealed record BackendServices(
    IXenPlatform Platform,
    IXenStore XenStore,
    BridgeSet Bridges,
    PacketBufferPool Buffers,
    GrantCopyActors Hypercalls,
    VifStatusRegistry Status,
    BackendOptions Options)
{
    /// <summary>The TAP poll thread; present when a TAP is used (an uplink, or <c>--switch tap</c>).</summary>
    public HostNetwork.HostTaps? Taps { get; init; }

    /// <summary>Closed by the xenbus supervisor until the vifs found at start have re-attached.</summary>
    public RingGate RingGate { get; init; } = new();

    /// <summary>Closed by the orderly stop: no TX ring is read after that.</summary>
    public TxIntake TxIntake { get; init; } = new();

    /// <summary>
    /// The host a vif's TAP alias names besides the backend domain (<see cref="HostNetwork.VifTap"/>): the
    /// sim root under SIMXEN, where several simulated hosts share one kernel; none on real Xen.
    /// </summary>
    public string? TapHost => Platform is SimXenPlatform sim ? sim.Root.Path : null;
}
