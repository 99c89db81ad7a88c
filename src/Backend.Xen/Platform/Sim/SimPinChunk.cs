namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Our pin counts for <see cref="Entries"/> consecutive grant references of one foreign domain, and the
/// lock that guards them. <see cref="SimForeignDomain"/> allocates a chunk at the first pin of one of its
/// references: an idle guest pins its two ring references only, so it costs one chunk instead of the
/// 64 KiB that counts for all 8192 entries would.
/// </summary>
internal sealed class SimPinChunk
{
    public const int Entries = 64;

    public readonly Lock Gate = new();
    public readonly int[] Readers = new int[Entries];
    public readonly int[] Writers = new int[Entries];
}
