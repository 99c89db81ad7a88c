namespace Backend.Host.Admin;

/// <summary>
/// A vif's counters in <c>GET /status</c>; TX is guest to host, RX host to guest, as in netif.h.
/// Notifications are the backend's to the guest; Events the guest's to the backend, of which
/// SpuriousEvents brought nothing new. RxGsoChecksumFixup and TxFragOverflow are Linux netback's ethtool
/// counters of those names (rx_gso_checksum_fixup, tx_frag_overflow), both about frames from the guest.
/// RxStalls counts the guest's RX stalls (carrier off), RxExpired the frames of RxDropped that waited in
/// its queue for the drain timeout. RxMulticastFiltered counts the multicast frames for the guest that its
/// multicast filter refused (Linux's <c>xenvif_start_xmit</c> drop; broadcast is never filtered).
/// </summary>
public sealed record VifCountersDocument(
    long TxPackets, long TxBytes, long TxErrors, long RxPackets, long RxBytes, long RxDropped, long Notifications,
    long Events, long SpuriousEvents, long RxGsoChecksumFixup, long TxFragOverflow, long RxStalls, long RxExpired,
    long RxMulticastFiltered);
