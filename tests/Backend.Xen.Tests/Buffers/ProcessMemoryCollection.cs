namespace Backend.Xen.Tests.Buffers;

/// <summary>
/// Tests that measure this process's memory (/proc/self/status) run alone: another class allocating or
/// freeing in parallel would move the figures they compare.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessMemoryCollection
{
    public const string Name = "ProcessMemory";
}
