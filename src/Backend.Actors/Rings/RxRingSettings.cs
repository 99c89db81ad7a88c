using Backend.Xen.Netback;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Rings;

/// <summary>What the RX ring actor needs to know of its frontend, fixed for one connection.</summary>
public sealed record RxRingSettings(ushort FrontendDomId, int Mtu, FrontendConfig Frontend)
{
    /// <summary>Its queue's settings: the frontend's receive features and the bounds of <paramref name="options"/> for this MTU.</summary>
    public RxQueueSettings ForQueue(BackendOptions options) => new(
        FrontendDomId,
        Mtu,
        Frontend.ScatterGather,
        Frontend.GsoTcpV4,
        Frontend.GsoTcpV6,
        Frontend.Ipv4ChecksumOffload,
        Frontend.Ipv6ChecksumOffload,
        MaxFrames: options.RxQueueLength,
        MaxBytes: options.RxQueueBytesFor(Mtu, Frontend.TakesGso),
        CopyBatchSize: options.CopyBatchSize);
}
