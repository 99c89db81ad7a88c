namespace Backend.Xen.Netback;

/// <summary>Why a frontend's TX ring was judged fatal (SIMXEN "Hostile frontends"); names for a log line.</summary>
public enum TxFault
{
    None,

    /// <summary>req_prod is more than a ring ahead of the responses (RING_REQUEST_PROD_OVERFLOW).</summary>
    ImpossibleRequestProducer,

    /// <summary>A packet of 22 or more data slots (Linux's fatal_skb_slots).</summary>
    TooManySlots,

    /// <summary>A slot whose offset + size passes the end of its 4096-byte page.</summary>
    SlotCrossesPage,

    /// <summary>An extra of type 0 (NONE) or of a type at or beyond XEN_NETIF_EXTRA_TYPE_MAX.</summary>
    InvalidExtraType,

    /// <summary>The packet's GSO extra gives a segment size of 0.</summary>
    GsoSizeZero,

    /// <summary>The packet's GSO extra has a type other than TCPv4 or TCPv6.</summary>
    UnknownGsoType,
}
