using Backend.Xen.Abi;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Status;

/// <summary>
/// The live figures of one vif, for the admin endpoint. The vif's actors write them (counters with
/// Interlocked, the rest as whole values); readers take a snapshot without asking the actors.
/// </summary>
public sealed class VifStatus(VifId id, TimeProvider? time = null)
{
    public VifId Id { get; } = id;

    /// <summary>The lines this vif's guest can make us log again and again (reconnecting, failing anew).</summary>
    public GuestLogLimit GuestLog { get; } = new(time ?? TimeProvider.System);

    public volatile string State = nameof(XenbusState.Unknown);
    public volatile string FrontendState = nameof(XenbusState.Unknown);
    public volatile string Mac = "";
    public volatile string Bridge = "";
    public volatile int Mtu;
    public volatile string Features = "";
    /// <summary>Why the vif was disabled or failed to connect, or null.</summary>
    public volatile string? Fault;
    public volatile bool Disabled;
    /// <summary>With <c>--switch tap</c>: the vif's TAP device and what crossed it; null otherwise.</summary>
    public volatile string? TapDevice;
    public volatile HostNetwork.TapPortCounters? TapCounters;
    /// <summary>The vif's port on its learning bridge while connected (its counters start with the connection); null otherwise.</summary>
    public volatile Bridge.BridgePort? BridgePort;

    /// <summary>
    /// The link as the host sees it, as Linux netback's <c>netif_carrier_ok</c>: on from Connected until the
    /// vif disconnects, is disabled, or its guest stalls (<see cref="RxStalled"/>). Written by the vif's
    /// connection (<c>VifConnection</c>), which applies it to the bridge port or the TAP in the same step.
    /// </summary>
    public volatile bool Carrier;

    /// <summary>
    /// The vif's multicast filter (Linux's per-vif list and <c>multicast_control</c>): kept here, beside the
    /// counters, so that it lives as long as the vif does in this daemon, through restarts of its actors:
    /// its TX ring amends it, its bridge port and TAP reader consult it, the connection resets it at
    /// disconnect. <see cref="MulticastFilter.Filtered"/> is the vif's <c>rxMulticastFiltered</c>.
    /// </summary>
    public MulticastFilter Multicast { get; } = new();

    /// <summary>The guest left frames waiting for RX buffers for the stall timeout and has not posted since (carrier off).</summary>
    public volatile bool RxStalled;

    /// <summary>The hash its frontend set, while the vif's control ring is connected; null without one.</summary>
    public volatile Xen.Ctrl.VifHash? Hash;
    /// <summary>Control ring requests answered, and of those the ones not answered SUCCESS.</summary>
    public long CtrlRequests;
    public long CtrlRequestsRefused;

    public long Restarts;
    /// <summary>
    /// How long the last restart of the vif's data path took, in microseconds: from the connection actor's
    /// decision to restart to the later of the two ring actors' <c>PostRestart</c> (re-attached to the
    /// live ring, its first pass queued); 0 until one has completed. The soak reads it per fault.
    /// </summary>
    public long LastRestartMicroseconds;
    private long _restartBegan;
    private int _ringsReattached;
    public long Faults;
    public long TxPackets;
    public long TxBytes;
    public long TxErrors;
    public long RxPackets;
    public long RxBytes;
    public long RxDropped;
    /// <summary>Times the guest stalled (Linux's "Guest Rx stalled"): frames waited for buffers for the stall timeout.</summary>
    public long RxStalls;
    /// <summary>Of <see cref="RxDropped"/>, the frames that waited in the RX queue for the drain timeout.</summary>
    public long RxExpired;
    public long Notifications;
    /// <summary>Event-channel notifications from the guest handed to the ring actors (one at a time: late EOI).</summary>
    public long Events;
    /// <summary>Of those, the ones after which no ring had anything new (throttled when in a row).</summary>
    public long SpuriousEvents;
    /// <summary>
    /// Linux netback's ethtool counter of the same name: GSO frames from the guest (TX ring) without
    /// NETTXF_csum_blank, whose checksum the backend must treat as partial (Linux's checksum_setup). "rx"
    /// is the host's side of the vif, as in ethtool; counted by the TX ring actor from each pass (<see cref="TxCompletion"/>).
    /// </summary>
    public long RxGsoChecksumFixup;
    /// <summary>
    /// Linux netback's ethtool counter of the same name: frames from the guest spanning more slots after
    /// the first than a Linux skb has frags (MAX_SKB_FRAGS, 17), which Linux must copy into a frag list.
    /// </summary>
    public long TxFragOverflow;
    /// <summary>Frames waiting in the RX queue or in an RX copy batch.</summary>
    public int RxQueued;

    /// <summary>Per-queue figures of a vif connected with more than one queue; empty otherwise (set at connect).</summary>
    public volatile VifQueueStatus[] Queues = [];

    // Ring indices, published by the ring actors after each drain (of the last queue to drain, with several).
    public uint TxReqCons;
    public uint TxRspProd;
    public uint RxReqCons;
    public uint RxRspProd;

    /// <summary>The connection actor decided to restart the data path (both ring actors with it).</summary>
    public void BeginRestart()
    {
        Volatile.Write(ref _ringsReattached, 0);
        Volatile.Write(ref _restartBegan, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    /// <summary>A ring actor re-attached after a restart; the second one ends the restart's timing.</summary>
    public void RingReattached()
    {
        var began = Volatile.Read(ref _restartBegan);
        if (began == 0 || Interlocked.Increment(ref _ringsReattached) != 2)
            return;
        Volatile.Write(ref LastRestartMicroseconds, Math.Max(1, (long)System.Diagnostics.Stopwatch.GetElapsedTime(began).TotalMicroseconds));
    }
}
