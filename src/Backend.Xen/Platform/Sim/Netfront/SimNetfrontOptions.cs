namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// How a <see cref="SimNetfront"/> presents itself: which domain and vif it is, and which optional
/// features it advertises (a feature is used only when the backend advertises it too). The backend
/// domain and the MAC come from the frontend dir the toolstack wrote, as Linux's netfront reads them.
/// </summary>
public sealed record SimNetfrontOptions
{
    public required SimRoot Root { get; init; }

    /// <summary>The guest domain this netfront is; it creates <c>ROOT/dom&lt;D&gt;/</c>.</summary>
    public required ushort DomId { get; init; }

    /// <summary>The vif handle: the frontend dir is <c>/local/domain/&lt;D&gt;/device/vif/&lt;Handle&gt;</c>.</summary>
    public int Handle { get; init; }

    /// <summary>Separate TX and RX event channels when the backend offers <c>feature-split-event-channels</c>.</summary>
    public bool SplitEventChannels { get; init; }

    /// <summary>
    /// Queues to ask for (<c>multi-queue-num-queues</c>, each under <c>queue-N/</c>), as Linux's netfront with
    /// several vCPUs; at most what the backend publishes as <c>multi-queue-max-queues</c> (none: one).
    /// </summary>
    public int Queues { get; init; } = 1;

    /// <summary>
    /// With split event channels, also write the single <c>event-channel</c> key (naming the TX port), as a
    /// frontend that writes both styles: a backend must then use the split keys, as Linux netback does.
    /// </summary>
    public bool AlsoWriteSingleEventChannel { get; init; }

    /// <summary>Advertise <c>feature-sg</c>: frames of more than one slot, both ways.</summary>
    public bool FeatureSg { get; init; } = true;

    public bool FeatureGsoTcpV4 { get; init; }

    public bool FeatureGsoTcpV6 { get; init; }

    /// <summary>Advertise <c>feature-no-csum-offload</c>: the backend must not hand us blank checksums.</summary>
    public bool NoCsumOffload { get; init; }

    /// <summary>
    /// Written as <c>xdp-headroom</c> at connect when the backend offers <c>feature-xdp-headroom</c>, as
    /// Linux's netfront does (256, XDP_PACKET_HEADROOM, with an XDP program); null writes nothing (a
    /// netfront from before XDP). <see cref="SimNetfront.ReconfigureAsync"/> changes it later.
    /// </summary>
    public ushort? XdpHeadroom { get; init; }

    /// <summary>
    /// Write <c>request-multicast-control</c> = 1 at connect when the backend offers
    /// <c>feature-multicast-control</c>: multicast frames then reach us only for the groups we add
    /// (<see cref="SimNetfront.SendMulticastControlAsync"/>).
    /// </summary>
    public bool RequestMulticastControl { get; init; }

    /// <summary>
    /// Set up a control ring (<c>ctrl-ring-ref</c>, <c>event-channel-ctrl</c>) when the backend offers
    /// <c>feature-ctrl-ring</c>, as a frontend that sets hashing does (<see cref="SimNetfront.CtrlRequestAsync"/>).
    /// </summary>
    public bool CtrlRing { get; init; }

    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Root, nameof(Root));
        if (DomId == 0 || DomId >= Abi.DomId.FirstReserved)
            throw new ArgumentException($"{nameof(DomId)} {DomId} is not a guest domain id (1..{Abi.DomId.FirstReserved - 1})");
        if (Handle < 0)
            throw new ArgumentException($"{nameof(Handle)} {Handle} is negative");
        if (Queues is < 1 or > SimNetfrontLayout.MaxQueues)
            throw new ArgumentException($"{nameof(Queues)} {Queues} is not 1 to {SimNetfrontLayout.MaxQueues}");
    }
}
