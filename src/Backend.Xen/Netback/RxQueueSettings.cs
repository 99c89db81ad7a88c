using Backend.Xen.Xenbus;

namespace Backend.Xen.Netback;

/// <summary>
/// What a vif's RX queue knows of its frontend and of its bounds, fixed for one connection: the
/// frontend's domain and MTU, the receive features it negotiated (read once, in
/// <see cref="FrontendConfig"/>, the one place they are kept: netif.h's <c>feature-sg</c>,
/// <c>feature-gso-tcpv4</c>/<c>-tcpv6</c>, <c>feature-no-csum-offload</c> inverted,
/// <c>feature-ipv6-csum-offload</c>), and how much the queue may hold.
/// </summary>
/// <param name="Frontend">The frontend's keys; the queue reads its receive features only.</param>
/// <param name="MaxFrames">Frames queued at most (RxQueueLength; SIMXEN: at least 512).</param>
/// <param name="MaxBytes">Bytes queued at most: a frame is taken while the queue holds fewer (decision 21).</param>
/// <param name="CopyBatchSize">Grant copies in one pass (one hypercall).</param>
/// <param name="Credit">The vif's <c>rate</c> on receive, if it has one (<see cref="RxCredit"/>); the connection owns it.</param>
/// <param name="StallTimeout">
/// Linux's <c>rx_stall_timeout</c>: frames that wait this long for buffers the frontend does not post make
/// the queue stalled (carrier off); zero never stalls, as Linux's 0.
/// </param>
/// <param name="DrainTimeout">Linux's <c>rx_drain_timeout</c>: a frame queued this long is dropped; zero keeps frames.</param>
/// <param name="Time">The clock of both timeouts; the system's when null.</param>
/// <param name="Hash">
/// The hash the frontend set over its control ring, or null without a ctrl ring: while it has Toeplitz and
/// some type enabled, every frame whose flow it hashes carries a hash extra.
/// </param>
public sealed record RxQueueSettings(
    ushort FrontendDomId,
    int Mtu,
    FrontendConfig Frontend,
    int MaxFrames,
    long MaxBytes,
    int CopyBatchSize,
    RxCredit? Credit = null,
    TimeSpan StallTimeout = default,
    TimeSpan DrainTimeout = default,
    TimeProvider? Time = null,
    Ctrl.VifHash? Hash = null);
