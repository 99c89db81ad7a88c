using Backend.Xen.Platform.Sim;

namespace Backend.Xen.Tests.Sim;

/// <summary>What a test does to a grant entry (or to our other users of it) between the pin's read and its swap.</summary>
internal delegate void SwapHook(ref uint entryWord, int attempt);

/// <summary>Runs a <see cref="SwapHook"/> before every compare-and-swap of a pin.</summary>
internal readonly struct OnSwap(SwapHook hook) : ISimPinInterference
{
    public void BeforeSwap(ref uint entryWord, int attempt) => hook(ref entryWord, attempt);
}
