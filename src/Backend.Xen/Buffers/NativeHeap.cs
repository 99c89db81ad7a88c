using Backend.Xen.Platform.Native;

namespace Backend.Xen.Buffers;

/// <summary>
/// The C heap that packet buffers come from (<c>NativeMemory.AlignedAlloc</c>, glibc's malloc). glibc keeps
/// what is freed in its arenas for the next allocation, one arena per thread that allocated, and gives a
/// page back to the host only from the top of an arena: the pool's trim (decision 85) freed its buffers,
/// yet the daemon's anonymous memory stayed where the guests had left it (the one-hour soak's RSS check,
/// issue 16). <see cref="GiveBack"/> asks glibc to return every free page of every arena.
/// </summary>
public static class NativeHeap
{
    private static int _unsupported;

    /// <summary>
    /// glibc's <c>malloc_trim(0)</c>: free pages of every arena go back to the host. Returns whether any
    /// did; false too with a C library that has no such call (musl), where it does nothing.
    /// </summary>
    public static bool GiveBack()
    {
        if (Volatile.Read(ref _unsupported) != 0)
            return false;
        try
        {
            return NativeCalls.MallocTrim(0) != 0;
        }
        catch (EntryPointNotFoundException)
        {
            Volatile.Write(ref _unsupported, 1);
            return false;
        }
    }
}
