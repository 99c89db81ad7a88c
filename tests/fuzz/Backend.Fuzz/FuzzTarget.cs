namespace Backend.Fuzz;

/// <summary>
/// One fuzz target: a function of one input that drives product code as a hostile guest would, and
/// checks the product's invariants as it goes. A broken invariant throws <see cref="InvariantException"/>;
/// any other exception that escapes is a defect too (a documented rejection is caught inside the target).
/// The same function runs under AFL++ (<c>Backend.Fuzz fuzz NAME</c>) and over the kept corpus in the
/// normal suite. Adding a target is adding one subclass: <see cref="FuzzTargets"/> finds it.
/// </summary>
/// <remarks>
/// A target must be deterministic (the same input, the same path: AFL judges coverage by it) and start
/// from fresh state at every <see cref="Run"/>, since SharpFuzz runs every input in the same process.
/// </remarks>
public abstract class FuzzTarget
{
    /// <summary>The target's name on the command line and its corpus folder (tests/fuzz/corpus/NAME).</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Whether the target has run its seeds once: before that, loading types and filling caches allocates,
    /// which is the process's doing, not the product's, so allocation checks wait for it.
    /// </summary>
    protected bool IsWarm { get; private set; }

    /// <summary>Runs one input; throws on a broken invariant.</summary>
    public void Run(ReadOnlySpan<byte> input)
    {
        // Here, not in a constructor: under AFL the instrumented code may run only once SharpFuzz has
        // attached the coverage map, inside Fuzzer.Run.
        if (!IsWarm)
        {
            foreach (var seed in Seeds())
            {
                try
                {
                    Execute(seed.Input);
                }
                catch (Exception e)
                {
                    throw new InvariantException($"warming up, seed {seed.Name} of {Name} failed: {e.GetType().Name}: {e.Message}");
                }
            }
            IsWarm = true;
        }
        Execute(input);
    }

    /// <summary>Runs one input from fresh state; throws on a broken invariant.</summary>
    protected abstract void Execute(ReadOnlySpan<byte> input);

    /// <summary>Hand-made inputs that reach the target's interesting paths (issue 12's cases among them), named.</summary>
    public abstract IEnumerable<FuzzSeed> Seeds();
}
