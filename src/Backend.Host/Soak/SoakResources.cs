namespace Backend.Host.Soak;

/// <summary>The daemon's VmRSS (KiB) and open file descriptors at one moment.</summary>
internal sealed record SoakResources(long RssKiB, int Fds);
