using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Backend.Host.Bench;

/// <summary>The machine's memcpy bandwidth on one thread: the ceiling for any copy-based data path.</summary>
internal static unsafe class MemcpyProbe
{
    private const int BufferBytes = 64 * 1024 * 1024;

    /// <summary>Bytes copied per second (10^9), best of a few rounds of 64 MiB copies.</summary>
    public static double GigabytesPerSecond(TimeSpan budget)
    {
        var source = (byte*)NativeMemory.AlignedAlloc(BufferBytes, 4096);
        var destination = (byte*)NativeMemory.AlignedAlloc(BufferBytes, 4096);
        try
        {
            new Span<byte>(source, BufferBytes).Fill(0x5a);
            new Span<byte>(destination, BufferBytes).Clear();
            var best = 0.0;
            var total = Stopwatch.StartNew();
            var rounds = 0;
            while (rounds < 3 || (total.Elapsed < budget && rounds < 64))
            {
                var t = Stopwatch.GetTimestamp();
                Buffer.MemoryCopy(source, destination, BufferBytes, BufferBytes);
                var seconds = Stopwatch.GetElapsedTime(t).TotalSeconds;
                best = Math.Max(best, BufferBytes / seconds / 1e9);
                rounds++;
            }
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(source);
            NativeMemory.AlignedFree(destination);
        }
    }
}
