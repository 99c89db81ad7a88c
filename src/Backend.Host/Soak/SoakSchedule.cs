namespace Backend.Host.Soak;

/// <summary>
/// The fault schedule, drawn from the seed alone (so <c>--seed</c> replays it): faults every
/// <see cref="SoakOptions.FaultEvery"/> seconds on average, their kinds dealt from shuffled decks that
/// hold every kind (so even a short run sees each), hostile classes dealt in turn from their own shuffled
/// deck. Every fault of the schedule runs, however late (<see cref="SoakRunner"/>). Daemon restarts fall in the first two thirds only: the last incarnation must live through the
/// other faults before its memory and descriptors are compared with the baseline.
/// </summary>
internal static class SoakSchedule
{
    /// <summary>Every kind, as often as a deck deals it.</summary>
    public static readonly string[] Deck =
    [
        SoakFault.RingFault, SoakFault.RingFault, SoakFault.VifReadded, SoakFault.Reconnect, SoakFault.GuestKilled,
        SoakFault.DaemonSigterm, SoakFault.DaemonSigkill, SoakFault.Hostile, SoakFault.Hostile, SoakFault.Hostile,
        SoakFault.XenStoreRestarted,
    ];

    public static IReadOnlyList<SoakFault> Draw(SoakOptions options)
    {
        var random = new Random(options.Seed);
        var kinds = options.Kinds is { } only ? Deck.Where(only.Contains).ToArray() : Deck;
        var faults = new List<SoakFault>();
        var deck = new Queue<string>();
        var hostile = new Queue<string>();
        // The first fault once traffic has settled; then at random intervals around the mean.
        for (var at = Math.Min(2, options.Seconds / 10); at < options.Seconds; at += options.FaultEvery * (0.5 + random.NextDouble()))
        {
            if (deck.Count == 0)
                Refill(deck, kinds, random);
            var kind = deck.Dequeue();
            var late = at >= options.Seconds * 2 / 3;
            if (kind is SoakFault.DaemonSigterm or SoakFault.DaemonSigkill && late)
            {
                // Dealt too late: left out, and a kind that may come late goes in its place (none, when
                // --faults left ring faults out).
                if (!kinds.Contains(SoakFault.RingFault))
                    continue;
                kind = SoakFault.RingFault;
            }
            var guest = kind is SoakFault.RingFault or SoakFault.VifReadded or SoakFault.Reconnect ? random.Next(options.Guests) : -1;
            string? detail = null;
            if (kind == SoakFault.RingFault)
                detail = random.Next(2) == 0 ? "tx" : "rx";
            if (kind == SoakFault.Hostile)
            {
                if (hostile.Count == 0)
                    Refill(hostile, SoakHostile.Classes.Select(c => c.Name).ToArray(), random);
                detail = hostile.Dequeue();
            }
            faults.Add(new SoakFault(Math.Round(at, 1), kind, guest, detail));
        }
        return faults;
    }

    private static void Refill(Queue<string> queue, string[] items, Random random)
    {
        var shuffled = items.ToArray();
        random.Shuffle(shuffled);
        foreach (var item in shuffled)
            queue.Enqueue(item);
    }
}
