namespace Backend.Xen.Platform.Sim;

/// <summary>
/// What happens to a grant entry between our read of it and our compare-and-swap: nothing in production
/// (<see cref="NoPinInterference"/>, inlined away); a test changes the entry here to show the 5-attempt
/// limit deterministically.
/// </summary>
internal interface ISimPinInterference
{
    void BeforeSwap(ref uint entryWord, int attempt);
}
