using System.Runtime.CompilerServices;

namespace Backend.Actors.Bridge;

/// <summary>
/// A learning bridge's MAC table, built for the forwarder: open addressing with linear probing over a
/// power-of-two array of entries keyed by the MAC as a ulong, never more than half full, read without a
/// lock or an atomic operation (one array read and one probe run per look-up). Writers are serialised by
/// the bridge (its write lock): a new MAC goes into an empty slot in place (a reader sees the slot empty or
/// the whole entry, published with a release write, and a probe run only grows), or into a larger copy
/// published whole when the table would pass half full; a removal rebuilds the array without the removed
/// entries and publishes it whole, because an emptied slot would cut the probe runs of readers.
/// <para>
/// The slot is the MAC mixed with a seed chosen per table (murmur3's finaliser over MAC xor seed), so a
/// sender of chosen source MACs (an uplink, or a vif under <see cref="BridgeSourceMac.Any"/>) cannot aim
/// them at one probe run: ConcurrentDictionary's hash of a ulong is its two halves xor-ed, unseeded.
/// </para>
/// </summary>
internal sealed class MacTable
{
    private const int MinimumSlots = 16;

    private readonly ulong _seed = (ulong)Random.Shared.NextInt64() | 1;
    private MacEntry?[] _slots = new MacEntry?[MinimumSlots];

    /// <summary>Entries in the table.</summary>
    public int Count { get; private set; }

    /// <summary>The entry for <paramref name="mac"/>, or null. Lock-free; safe against any writer.</summary>
    public MacEntry? Find(ulong mac)
    {
        var slots = Volatile.Read(ref _slots);
        var mask = slots.Length - 1;
        for (var i = Slot(mac, mask); ; i = (i + 1) & mask)
        {
            // At most half the slots are taken in any array a reader can hold, so the run ends.
            var entry = Volatile.Read(ref slots[i]);
            if (entry is null || entry.Mac == mac)
                return entry;
        }
    }

    /// <summary>Adds an entry whose MAC is not in the table. Writers only (under the bridge's lock).</summary>
    public void Add(MacEntry entry)
    {
        var slots = _slots;
        if ((Count + 1) * 2 > slots.Length)
        {
            slots = Grow(slots.Length * 2);
            Volatile.Write(ref _slots, slots);
        }
        Place(slots, entry);
        Count++;
    }

    /// <summary>
    /// Removes every entry <paramref name="remove"/> picks, in one new array; returns how many. Writers
    /// only. A reader that still holds the old array finds the removed entries until its next look-up.
    /// </summary>
    public int RemoveWhere<TState>(Func<MacEntry, TState, bool> remove, TState state)
    {
        // One pass asks the predicate once per entry (an entry's age may change meanwhile), then the
        // survivors go into the new array.
        var slots = _slots;
        var kept = new MacEntry[Count];
        var keptCount = 0;
        foreach (var entry in slots)
        {
            if (entry is not null && !remove(entry, state))
                kept[keptCount++] = entry;
        }
        var removed = Count - keptCount;
        if (removed == 0)
            return 0;
        var size = slots.Length;
        // Shrunk when an eighth full or less, so a table that once held many MACs does not keep their room.
        while (size > MinimumSlots && keptCount * 8 <= size)
            size /= 2;
        var rebuilt = new MacEntry?[size];
        for (var i = 0; i < keptCount; i++)
            Place(rebuilt, kept[i]);
        Count = keptCount;
        Volatile.Write(ref _slots, rebuilt);
        return removed;
    }

    private MacEntry?[] Grow(int size)
    {
        var grown = new MacEntry?[size];
        foreach (var entry in _slots)
        {
            if (entry is not null)
                Place(grown, entry);
        }
        return grown;
    }

    private void Place(MacEntry?[] slots, MacEntry entry)
    {
        var mask = slots.Length - 1;
        var i = Slot(entry.Mac, mask);
        while (slots[i] is not null)
            i = (i + 1) & mask;
        Volatile.Write(ref slots[i], entry);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong mac, int mask)
    {
        // murmur3's fmix64: every bit of the MAC (and of the seed) moves the low bits the mask keeps.
        var h = mac ^ _seed;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return (int)h & mask;
    }
}
