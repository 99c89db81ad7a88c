namespace Backend.Xen.Tests.Linux;

/// <summary>
/// The TAP tests run alone, because other classes of this project start child processes (cback, the C
/// probes, the xenstore clients) and a child holds a copy of every descriptor of this process from its
/// fork until its exec, O_CLOEXEC ones included. A TAP whose last descriptor of ours closes in that
/// window stays until the child execs: "is gone once deleted" failed, and TUNSETIFF on the name failed
/// with EBUSY (the name is attached to the child's copy), once in four CI runs (2026-12-06). What the
/// kernel does without a fork in flight is synchronous: the interface is gone when close returns.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TapCollection
{
    public const string Name = "Tap";
}
