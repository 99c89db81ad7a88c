namespace Backend.Host.Tests.Soak;

/// <summary>
/// The soak runs alone: its daemon restarts and sixteen guests load the machine enough to slow the
/// other end-to-end tests' daemons, and theirs would stretch its faults.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoakCollection
{
    public const string Name = "Soak";
}
