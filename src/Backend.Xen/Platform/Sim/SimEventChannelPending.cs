using System.Numerics;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// A domain's <c>evtchn-pending</c> file: 4096 bits in 64 little-endian words, bit p set when port p is
/// pending, as Xen's shared-info pending bitmap.
/// </summary>
internal sealed class SimEventChannelPending(SimMappedFile file)
{
    public const int Words = SimRoot.EventChannelPorts / 64;
    public const int FileSize = Words * sizeof(ulong);

    public SimMappedFile File { get; } = file;

    /// <summary>Sets port's bit atomically; true when it was clear (the receiver needs a wake-up).</summary>
    public bool SetPending(uint port)
    {
        var bit = 1UL << (int)(port % 64);
        return (Interlocked.Or(ref Word((int)(port / 64)), bit) & bit) == 0;
    }

    /// <summary>Clears port's bit atomically; true when it was set (the caller now owns that event).</summary>
    public bool TakePort(uint port)
    {
        var bit = 1UL << (int)(port % 64);
        return (Interlocked.And(ref Word((int)(port / 64)), ~bit) & bit) != 0;
    }

    public ulong ReadWord(int index) => Volatile.Read(ref Word(index));

    public bool IsPending(uint port) => (ReadWord((int)(port / 64)) & (1UL << (int)(port % 64))) != 0;

    /// <summary>Clears every word once: bits a previous instance left would suppress every wake-up.</summary>
    public void ClearAll()
    {
        for (var i = 0; i < Words; i++)
            Interlocked.Exchange(ref Word(i), 0);
    }

    /// <summary>
    /// Takes every pending port that is not masked into <paramref name="handle"/>: each non-zero word's
    /// unmasked bits are cleared atomically (SIMXEN's exchange with 0, where nothing is masked), and a
    /// masked port's bit stays set, as Xen keeps it, so a notifier meanwhile finds it set and sends nothing.
    /// </summary>
    /// <param name="masked">The receiver's masked ports, bit p of word p/64 (its own memory, not the file's).</param>
    public int TakeAll<THandler>(ref THandler handle, ulong[] masked)
        where THandler : struct, ISimPendingPortHandler
    {
        var count = 0;
        for (var w = 0; w < Words; w++)
        {
            var mask = Volatile.Read(ref masked[w]);
            if ((ReadWord(w) & ~mask) == 0)
                continue;
            // A port unmasked after the mask was read keeps its bit for its late EOI, which takes it after
            // unmasking; one masked after it is delivered here, and the delivery sees the mask (TryMask).
            var bits = Interlocked.And(ref Word(w), mask) & ~mask;
            while (bits != 0)
            {
                var port = (uint)(w * 64 + BitOperations.TrailingZeroCount(bits));
                bits &= bits - 1;
                if (port == 0)
                    continue;
                count++;
                handle.OnPending(port);
            }
        }
        return count;
    }

    private ref ulong Word(int index)
    {
        if ((uint)index >= Words)
            throw new ArgumentOutOfRangeException(nameof(index));
        return ref File.UInt64At((nuint)index * sizeof(ulong));
    }
}
