namespace Backend.Xen.Platform;

/// <summary>Which Xen the daemon talks to.</summary>
public enum XenPlatformKind
{
    /// <summary>SIMXEN: domains are processes, memory and grant tables are files (SIMXEN.md).</summary>
    Simulated,

    /// <summary>Real Xen through Linux's <c>/dev/xen</c> devices (dom0 or a driver domain).</summary>
    Linux,
}
