namespace Backend.Xen.Platform.Sim;

/// <summary>
/// One <c>evtchn-peers</c> entry: <c>uint16 peer_domid; uint16 state; uint32 peer_port</c>, stored as one
/// aligned little-endian 64-bit value so that it is read and written atomically.
/// </summary>
public readonly record struct SimEventChannelEntry(ushort PeerDomId, ushort State, uint PeerPort)
{
    public const ushort StateUnbound = 0;
    public const ushort StateInterdomain = 1;

    public bool IsInterdomain => State == StateInterdomain;

    public ulong Pack() => PeerDomId | ((ulong)State << 16) | ((ulong)PeerPort << 32);

    public static SimEventChannelEntry Unpack(ulong value) =>
        new((ushort)value, (ushort)(value >> 16), (uint)(value >> 32));

    public static SimEventChannelEntry Interdomain(ushort peerDomId, uint peerPort) => new(peerDomId, StateInterdomain, peerPort);

    public static SimEventChannelEntry Unbound(ushort peerDomId) => new(peerDomId, StateUnbound, 0);
}
