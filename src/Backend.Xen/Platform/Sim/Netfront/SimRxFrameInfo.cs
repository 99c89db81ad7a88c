using Backend.Xen.Abi;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>What came with a received frame besides its bytes: the first response's flags and the GSO extra.</summary>
public readonly record struct SimRxFrameInfo(NetRxFlags Flags, byte GsoType, ushort GsoSize, int Slots)
{
    public bool CsumBlank => (Flags & NetRxFlags.CsumBlank) != 0;

    public bool DataValidated => (Flags & NetRxFlags.DataValidated) != 0;
}
