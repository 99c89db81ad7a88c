using Backend.Xen.Platform.Sim;

namespace Backend.Xen.Tests.Sim;

/// <summary>
/// Plays a guest that changes a grant entry between the user's read and its compare-and-swap, the first
/// <see cref="Times"/> times, by XOR-ing <see cref="Bits"/> into the {flags, domid} word.
/// </summary>
internal struct FlippingEntry(int times, uint bits) : ISimPinInterference
{
    public int Times = times;
    public uint Bits = bits;
    public int Attempts;

    public void BeforeSwap(ref uint entryWord, int attempt)
    {
        Attempts = attempt;
        if (attempt <= Times)
            entryWord ^= Bits;
    }

    public readonly void BeforeClear(uint gref)
    {
    }
}
