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

    public ulong TakeWord(int index) => Interlocked.Exchange(ref Word(index), 0);

    public bool IsPending(uint port) => (ReadWord((int)(port / 64)) & (1UL << (int)(port % 64))) != 0;

    /// <summary>Clears every word once: bits a previous instance left would suppress every wake-up.</summary>
    public void ClearAll()
    {
        for (var i = 0; i < Words; i++)
            Interlocked.Exchange(ref Word(i), 0);
    }

    /// <summary>Takes every pending port (exchanging non-zero words with 0) into <paramref name="handle"/>.</summary>
    public int TakeAll<THandler>(ref THandler handle)
        where THandler : struct, ISimPendingPortHandler
    {
        var count = 0;
        for (var w = 0; w < Words; w++)
        {
            if (ReadWord(w) == 0)
                continue;
            var bits = TakeWord(w);
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
