namespace Backend.Xen.Platform.Sim;

/// <summary>
/// What happens between the steps of a pin and of its release, where other users and the guest may act:
/// nothing in production (<see cref="NoPinInterference"/>, inlined away); a test acts here to show the
/// 5-attempt limit, and the order of our count and the entry's bits, deterministically.
/// </summary>
internal interface ISimPinInterference
{
    /// <summary>Between our read of the entry and our compare-and-swap of its bits.</summary>
    void BeforeSwap(ref uint entryWord, int attempt);

    /// <summary>
    /// Between the last user's swap of our count (which marks it clearing) and its AND of the entry's
    /// bits: other users of the reference must wait here.
    /// </summary>
    void BeforeClear(uint gref);
}
