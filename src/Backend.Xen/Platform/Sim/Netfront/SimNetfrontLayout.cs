using Backend.Xen.Abi;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// Where a netfront keeps things in its pseudo-physical memory: a few frames for ring pages (a ring page
/// whose grant the backend still holds is never reused, so a reconnect takes another), one page per RX
/// ring slot and one page per TX ring slot (a TX request id names its page), of queue 0, then the RX and TX
/// pages of each further queue (a guest with one queue has the memory it always had).
/// </summary>
internal static class SimNetfrontLayout
{
    /// <summary>The most queues our netfront asks for.</summary>
    public const int MaxQueues = 8;

    /// <summary>
    /// Ring pages: a TX and an RX per queue and a control ring with its data page, with room for a reconnect
    /// while the old ones are still mapped.
    /// </summary>
    public const int RingFrames = 2 * (2 * MaxQueues + 2);
    public const uint FirstRingFrame = 0;
    public const uint FirstRxFrame = FirstRingFrame + RingFrames;
    public const uint FirstTxFrame = FirstRxFrame + NetifConstants.RxRingSize;
    private const int QueuePages = NetifConstants.RxRingSize + NetifConstants.TxRingSize;

    /// <summary>The guest's memory for <paramref name="queues"/> queues.</summary>
    public static int MemoryPages(int queues) => (int)FirstTxFrame + NetifConstants.TxRingSize + (queues - 1) * QueuePages;

    /// <summary>The first RX buffer page of <paramref name="queue"/>.</summary>
    public static uint RxFrames(int queue) => queue == 0 ? FirstRxFrame : (uint)(FirstTxFrame + NetifConstants.TxRingSize + (queue - 1) * QueuePages);

    /// <summary>The first TX buffer page of <paramref name="queue"/>.</summary>
    public static uint TxFrames(int queue) => queue == 0 ? FirstTxFrame : RxFrames(queue) + NetifConstants.RxRingSize;

    /// <summary>The largest frame either ring carries (XEN_NETIF_MAX_TX_SIZE).</summary>
    public const int MaxFrame = NetifConstants.MaxTxSize;

    /// <summary>Data slots of one received frame beyond which it is dropped (Linux netfront: XEN_NETIF_NR_SLOTS_MIN + 1).</summary>
    public const int MaxRxSlots = NetifConstants.NrSlotsMin + 1;
}
