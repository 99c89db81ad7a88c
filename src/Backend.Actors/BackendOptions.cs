using Backend.Xen.Abi;
using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Actors;

/// <summary>Behaviour switches of the backend that hosting decides.</summary>
public sealed record BackendOptions
{
    /// <summary>
    /// Under SIMXEN no hotplug script runs, so the daemon writes <c>hotplug-status</c>=connected itself
    /// when it first sees a vif; on real Xen the script does and the daemon only waits for it.
    /// </summary>
    public bool WriteHotplugStatus { get; init; }

    /// <summary>
    /// Linux's <c>xenvif_max_queues</c>: published as <c>multi-queue-max-queues</c>, the most queues a frontend
    /// may ask for (1 to <see cref="FrontendConfig.MaxQueuesLimit"/>; see <see cref="DefaultMaxQueues"/>).
    /// </summary>
    public int MaxQueues { get; init; } = 1;

    /// <summary>
    /// <paramref name="setting"/>, or for 0 one queue per data-path lane, clamped to 1..8 as Linux's default
    /// (one per CPU) is: more queues than lanes would put two queues of one vif on one thread.
    /// </summary>
    public static int DefaultMaxQueues(int setting, int lanes) =>
        setting > 0 ? setting : Math.Clamp(lanes, 1, FrontendConfig.MaxQueuesLimit);

    /// <summary>Frames queued for a guest that posts no rx buffers before further ones are dropped.</summary>
    public int RxQueueLength { get; init; } = 512;

    /// <summary>
    /// Bytes queued for such a guest before further frames are dropped: Linux's XENVIF_RX_QUEUE_BYTES, but
    /// never less than SIMXEN's promises need (<see cref="RxQueueBytesFor"/>).
    /// </summary>
    public int RxQueueBytes { get; init; } = 512 * 1024;

    /// <summary>
    /// Linux's <c>rx_stall_timeout</c>: frames that wait this long for RX buffers the guest does not post
    /// turn the vif's carrier off until it posts again; zero never does (as Linux's 0).
    /// </summary>
    public TimeSpan RxStallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Linux's <c>rx_drain_timeout</c>: a frame that has waited this long in a vif's RX queue is dropped.</summary>
    public TimeSpan RxDrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>SIMXEN: a test that demands zero loss keeps at most this many frames in flight per vif.</summary>
    public const int ZeroLossWindow = 256;

    /// <summary>
    /// The byte bound of a vif's RX queue: <see cref="RxQueueBytes"/>, raised so that SIMXEN's promises
    /// hold: <see cref="RxQueueLength"/> frames of the vif's MTU + 14, and, for a frontend that takes GSO
    /// frames (up to 64 KiB whatever the MTU), a zero-loss window of them waiting at once. It bites on
    /// frames larger than the MTU only: 256 GSO frames of 64 KiB instead of 512 (16 MiB, not 32).
    /// </summary>
    public long RxQueueBytesFor(int mtu, bool gso) =>
        Math.Max(Math.Max(RxQueueBytes, (long)RxQueueLength * (mtu + NetifConstants.EthernetHeaderLength)),
            gso ? (long)ZeroLossWindow * NetifConstants.MaxTxSize : 0);

    /// <summary>A vif's RX queue's settings: its frontend's receive features and these bounds for its MTU.</summary>
    public RxQueueSettings RxQueueSettingsFor(ushort frontendDomId, int mtu, FrontendConfig frontend) => new(
        frontendDomId,
        mtu,
        frontend,
        MaxFrames: RxQueueLength,
        MaxBytes: RxQueueBytesFor(mtu, frontend.TakesGso),
        CopyBatchSize: CopyBatchSize,
        StallTimeout: RxStallTimeout,
        DrainTimeout: RxDrainTimeout);

    /// <summary>
    /// A bound for the frames on their way to one receiver (a vif's RX actor, an uplink): as much again as
    /// its RX queue holds, so that a receiver whose lane is behind holds at most twice its queue's worth
    /// of buffers.
    /// </summary>
    public Bridge.FrameBacklog NewBacklog(int mtu, bool gso) => new(RxQueueLength, RxQueueBytesFor(mtu, gso));

    /// <summary>Grant-copy segments in one batch (one hypercall).</summary>
    public int CopyBatchSize { get; init; } = 512;

    /// <summary>
    /// Where vifs' frames go (<c>--switch</c>): the in-process bridges, or a TAP per vif, which needs
    /// <see cref="BackendServices.Taps"/>.
    /// </summary>
    public HostNetwork.SwitchMode Switch { get; init; } = HostNetwork.SwitchMode.InProcess;
}
