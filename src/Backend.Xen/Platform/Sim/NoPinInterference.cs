namespace Backend.Xen.Platform.Sim;

/// <summary>The production case: nobody but the guest touches the entry.</summary>
internal struct NoPinInterference : ISimPinInterference
{
    public readonly void BeforeSwap(ref uint entryWord, int attempt)
    {
    }

    public readonly void BeforeClear(uint gref)
    {
    }
}
