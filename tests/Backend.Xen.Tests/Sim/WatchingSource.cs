using Backend.Xen.Platform.Sim;

namespace Backend.Xen.Tests.Sim;

/// <summary>Records another entry's flags when the destination of a copy is being pinned.</summary>
internal struct WatchingSource(SimGranter granter, uint watchedRef) : ISimPinInterference
{
    public ushort FlagsSeen;
    public int Calls;

    public void BeforeSwap(ref uint entryWord, int attempt)
    {
        Calls++;
        FlagsSeen = granter.ReadEntry(watchedRef).Flags;
    }

    public readonly void BeforeClear(uint gref)
    {
    }
}
