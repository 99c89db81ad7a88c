using System.Runtime.InteropServices;
using Backend.Xen.Buffers;

namespace Backend.Xen.Tests.Buffers;

/// <summary>
/// <see cref="NativeHeap.GiveBack"/> (issue 16's one-hour soak: the pool's trim freed its buffers, and the
/// daemon's anonymous memory stayed). Freed packet-buffer-sized blocks between blocks still in use are
/// kept by glibc, which gives back only the top of an arena by itself; the call returns them.
/// </summary>
[Collection(ProcessMemoryCollection.Name)]
public sealed class NativeHeapTests
{
    private const int BlockSize = PacketBufferPool.MediumSize;
    private const int Blocks = 4096; // 64 MiB in all, half of it freed in the middle of the heap

    [Fact]
    public unsafe void Freed_blocks_between_live_ones_go_back_to_the_host_only_when_given_back()
    {
        var blocks = new nint[Blocks];
        try
        {
            for (var i = 0; i < Blocks; i++)
            {
                blocks[i] = (nint)NativeMemory.AlignedAlloc(BlockSize, 64);
                new Span<byte>((void*)blocks[i], BlockSize).Fill(1); // resident
            }
            // Every other block freed: no free run reaches the arena's top, so glibc keeps them all.
            for (var i = 0; i < Blocks; i += 2)
            {
                NativeMemory.AlignedFree((void*)blocks[i]);
                blocks[i] = 0;
            }
            var kept = RssAnonKiB();

            Assert.True(NativeHeap.GiveBack(), "glibc's malloc_trim should have given pages back");

            var after = RssAnonKiB();
            // 32 MiB were freed; each free block's whole pages (three of a 16 KiB block's four or five) can go.
            Assert.True(kept - after >= 16 * 1024, $"RssAnon {kept} KiB before, {after} KiB after: less than 16 MiB given back");
        }
        finally
        {
            foreach (var block in blocks)
            {
                if (block != 0)
                    NativeMemory.AlignedFree((void*)block);
            }
        }
    }

    private static long RssAnonKiB()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(8).Trim().TrimEnd("kB").Trim());
        }
        throw new InvalidOperationException("no RssAnon in /proc/self/status");
    }
}
