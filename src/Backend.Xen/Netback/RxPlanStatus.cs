namespace Backend.Xen.Netback;

/// <summary>The result of <see cref="RxSlotPlanner.Plan(in RxFrame, uint, uint, out RxPacket)"/> (FreeBSD's mbufc2pkt errno).</summary>
public enum RxPlanStatus
{
    Ok,
    /// <summary>EAGAIN: the frontend has not posted enough rx requests; the ring was not touched.</summary>
    NoSpace,
    /// <summary>EINVAL: empty, too long, or an unknown GSO type or a GSO size of 0; drop the frame.</summary>
    Invalid,
}
