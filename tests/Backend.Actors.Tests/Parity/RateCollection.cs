namespace Backend.Actors.Tests.Parity;

/// <summary>
/// The rate tests run alone: they assert a delivered rate within 10 % of a limit, and other test classes
/// running beside them on a 2-core machine starved the senders below it (0.75 MB/s of 1 MB/s, once in
/// three runs of the project, 2026-12-06), which says nothing about the rate limit.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RateCollection
{
    public const string Name = "Rate";
}
