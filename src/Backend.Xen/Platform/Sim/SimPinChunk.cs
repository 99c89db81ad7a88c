namespace Backend.Xen.Platform.Sim;

/// <summary>
/// Our pin counts for <see cref="Entries"/> consecutive grant references of one foreign domain, one 32-bit
/// word per reference, changed only by compare-and-swap (<see cref="SimForeignDomain"/> says how): readers
/// in bits 0 to 13, writers in bits 14 to 27, then three flags. <see cref="SimForeignDomain"/> allocates a
/// chunk at the first pin of one of its references: an idle guest pins its two ring references only, so
/// it costs one chunk instead of the 32 KiB that counts for all 8192 entries would.
/// </summary>
internal sealed class SimPinChunk
{
    public const int Entries = 64;

    public const int Reader = 1;
    public const int Writer = 1 << 14;
    public const int CountMask = Writer - 1;

    /// <summary>
    /// A user that had pinned GTF_reading let go while other users were counted: the last of them clears
    /// the bit even if its own pin failed.
    /// </summary>
    public const int LeftReading = 1 << 28;

    /// <summary>As <see cref="LeftReading"/>, for GTF_writing and the writers.</summary>
    public const int LeftWriting = 1 << 29;

    /// <summary>The user that let go last is between its swap of the count and its AND of the entry's bits.</summary>
    public const int Clearing = 1 << 30;

    public readonly int[] Pins = new int[Entries];

    public static int Readers(int pins) => pins & CountMask;

    public static int Writers(int pins) => (pins >> 14) & CountMask;
}
