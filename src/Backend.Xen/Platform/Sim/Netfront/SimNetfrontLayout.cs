using Backend.Xen.Abi;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// Where a netfront keeps things in its pseudo-physical memory: a few frames for ring pages (a ring page
/// whose grant the backend still holds is never reused, so a reconnect takes another), one page per RX
/// ring slot and one page per TX ring slot (a TX request id names its page).
/// </summary>
internal static class SimNetfrontLayout
{
    public const int RingFrames = 8;
    public const uint FirstRingFrame = 0;
    public const uint FirstRxFrame = FirstRingFrame + RingFrames;
    public const uint FirstTxFrame = FirstRxFrame + NetifConstants.RxRingSize;
    public const int MemoryPages = (int)FirstTxFrame + NetifConstants.TxRingSize;

    /// <summary>The largest frame either ring carries (XEN_NETIF_MAX_TX_SIZE).</summary>
    public const int MaxFrame = NetifConstants.MaxTxSize;

    /// <summary>Data slots of one received frame beyond which it is dropped (Linux netfront: XEN_NETIF_NR_SLOTS_MIN + 1).</summary>
    public const int MaxRxSlots = NetifConstants.NrSlotsMin + 1;
}
