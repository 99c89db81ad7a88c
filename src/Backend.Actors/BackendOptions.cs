namespace Backend.Actors;

/// <summary>Behaviour switches of the backend that hosting decides.</summary>
public sealed record BackendOptions
{
    /// <summary>
    /// Under SIMXEN no hotplug script runs, so the daemon writes <c>hotplug-status</c>=connected itself
    /// when it first sees a vif; on real Xen the script does and the daemon only waits for it.
    /// </summary>
    public bool WriteHotplugStatus { get; init; }

    /// <summary>Frames queued for a guest that posts no rx buffers before further ones are dropped.</summary>
    public int RxQueueLength { get; init; } = 512;

    /// <summary>
    /// Bytes queued for such a guest before further frames are dropped: Linux's XENVIF_RX_QUEUE_BYTES, but
    /// never less than <see cref="RxQueueLength"/> frames of the vif's MTU (<see cref="RxQueueBytesFor"/>).
    /// </summary>
    public int RxQueueBytes { get; init; } = 512 * 1024;

    /// <summary>
    /// The byte bound of a vif's RX queue: <see cref="RxQueueBytes"/>, raised so that SIMXEN's "at least
    /// 512 frames" holds for frames of the vif's MTU + 14. It bites on larger (GSO) frames only.
    /// </summary>
    public long RxQueueBytesFor(int mtu) => Math.Max(RxQueueBytes, (long)RxQueueLength * (mtu + 14));

    /// <summary>
    /// A bound for the frames on their way to one receiver of MTU <paramref name="mtu"/> (a vif's RX actor,
    /// an uplink): as much again as its RX queue holds, so that a receiver whose lane is behind holds at
    /// most twice its queue's worth of buffers.
    /// </summary>
    public Bridge.FrameBacklog NewBacklog(int mtu) => new(RxQueueLength, RxQueueBytesFor(mtu));

    /// <summary>Grant-copy segments in one batch (one hypercall).</summary>
    public int CopyBatchSize { get; init; } = 512;

    /// <summary>
    /// Where vifs' frames go (<c>--switch</c>): the in-process bridges, or a TAP per vif, which needs
    /// <see cref="BackendServices.Taps"/>.
    /// </summary>
    public HostNetwork.SwitchMode Switch { get; init; } = HostNetwork.SwitchMode.InProcess;
}
