namespace Backend.Xen.Netback;

/// <summary>Why a TX packet was answered with ERROR while its vif goes on (SIMXEN "Hostile frontends").</summary>
public enum TxError
{
    None,

    /// <summary>20 or 21 data slots: more than the first plus XEN_NETIF_NR_SLOTS_MIN, short of fatal.</summary>
    TooManySlots,

    /// <summary>A later slot is larger than what remains of the size the first slot announced.</summary>
    SlotLargerThanRemaining,

    /// <summary>The first slot's own share (its size minus the later slots') is under an Ethernet header.</summary>
    FirstSlotTooSmall,

    /// <summary>The packet's GSO size is under <see cref="Offload.GsoLimits.MinSize"/> (but not 0, which is fatal).</summary>
    GsoSizeTooSmall,

    /// <summary>The packet would be cut into more than <see cref="Offload.GsoLimits.MaxSegments"/> segments.</summary>
    GsoTooManySegments,
}
