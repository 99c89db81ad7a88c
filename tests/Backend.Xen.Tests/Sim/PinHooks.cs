using Backend.Xen.Platform.Sim;

namespace Backend.Xen.Tests.Sim;

/// <summary>What a test does to a grant entry (or to our other users of it) between the pin's read and its swap.</summary>
internal delegate void SwapHook(ref uint entryWord, int attempt);

/// <summary>What a test does while the last user of a reference is between marking our count and clearing the bits.</summary>
internal delegate void ClearHook(uint gref);

/// <summary>Runs a test's hooks at the pin's swap and at the last user's clear.</summary>
internal readonly struct PinHooks(SwapHook? swap = null, ClearHook? clear = null) : ISimPinInterference
{
    public void BeforeSwap(ref uint entryWord, int attempt) => swap?.Invoke(ref entryWord, attempt);

    public void BeforeClear(uint gref) => clear?.Invoke(gref);
}
