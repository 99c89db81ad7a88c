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

    /// <summary>Grant-copy segments in one batch (one hypercall).</summary>
    public int CopyBatchSize { get; init; } = 512;

    /// <summary>
    /// Where vifs' frames go (<c>--switch</c>): the in-process bridges, or a TAP per vif, which needs
    /// <see cref="BackendServices.Taps"/>.
    /// </summary>
    public HostNetwork.SwitchMode Switch { get; init; } = HostNetwork.SwitchMode.InProcess;
}
