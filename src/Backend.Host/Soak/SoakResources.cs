namespace Backend.Host.Soak;

/// <summary>
/// The daemon's VmRSS (KiB) and open file descriptors at one moment, with VmRSS's three parts (-1 where the
/// kernel does not report them) and, where the daemon's <c>/metrics</c> was read, its own figures for the
/// managed heap and the packet-buffer pool: what grows past the baseline shows as managed heap, native
/// buffers, the rest of the anonymous memory (the runtime's own: JIT code, stacks, its native allocations),
/// or code pages the run has touched.
/// </summary>
internal sealed record SoakResources(long RssKiB, int Fds, long RssAnonKiB, long RssFileKiB, long RssShmemKiB)
{
    public long GcHeapBytes { get; init; } = -1;

    public long GcCommittedBytes { get; init; } = -1;

    public long PoolKeptBytes { get; init; } = -1;
}
