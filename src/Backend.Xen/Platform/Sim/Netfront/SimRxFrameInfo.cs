using Backend.Xen.Abi;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// What came with a received frame besides its bytes: the first response's flags, the GSO extra, the XDP
/// extra's headroom (0: none), and the hash extra (<see cref="HasHash"/>: its _XEN_NETIF_CTRL_HASH_TYPE_*
/// number, algorithm and value).
/// </summary>
public readonly record struct SimRxFrameInfo(NetRxFlags Flags, byte GsoType, ushort GsoSize, int Slots, ushort XdpHeadroom = 0,
    bool HasHash = false, byte HashType = 0, byte HashAlgorithm = 0, uint Hash = 0)
{
    public bool CsumBlank => (Flags & NetRxFlags.CsumBlank) != 0;

    public bool DataValidated => (Flags & NetRxFlags.DataValidated) != 0;
}
