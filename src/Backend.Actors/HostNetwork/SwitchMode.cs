namespace Backend.Actors.HostNetwork;

/// <summary>Where a vif's frames go: the daemon's own learning bridges, or the vif's own TAP device.</summary>
public enum SwitchMode
{
    /// <summary>In-process learning bridges, one per <c>bridge</c> value (SIMXEN's default); uplinks join them.</summary>
    InProcess,

    /// <summary>
    /// One persistent TAP per vif (<c>vif&lt;domid&gt;.&lt;handle&gt;</c>), which the host's own bridge,
    /// iptables and tcpdump see as they see kernel netback's vifs (the default on real Xen).
    /// </summary>
    Tap,
}
