using Backend.Xen.Abi;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>What came with a received frame besides its bytes: the first response's flags, the GSO extra and the XDP extra's headroom (0: none).</summary>
public readonly record struct SimRxFrameInfo(NetRxFlags Flags, byte GsoType, ushort GsoSize, int Slots, ushort XdpHeadroom = 0)
{
    public bool CsumBlank => (Flags & NetRxFlags.CsumBlank) != 0;

    public bool DataValidated => (Flags & NetRxFlags.DataValidated) != 0;
}
