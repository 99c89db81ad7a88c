using Backend.Xen.Abi;

namespace Backend.Xen.Rings;

/// <summary>
/// The layout of one shared ring page as xen/io/ring.h computes it: a <see cref="SharedRingHeader"/>
/// of 64 bytes, then entries that are the union of a request and a response.
/// </summary>
internal static unsafe class RingGeometry<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    /// <summary>sizeof(union { request; response; }). Every netif request and response is a multiple
    /// of its own alignment, so the larger of the two sizes is the union's.</summary>
    public static readonly int EntrySize = Math.Max(sizeof(TRequest), sizeof(TResponse));

    /// <summary>__RING_SIZE for one page: the entries that fit after the header, rounded down to a
    /// power of two so that indices can be masked.</summary>
    public static readonly int Size = RoundDownToPowerOfTwo((NetifConstants.PageSize - SharedRingHeader.EntriesOffset) / EntrySize);

    private static int RoundDownToPowerOfTwo(int value) =>
        value <= 0 ? 0 : 1 << (31 - int.LeadingZeroCount(value));
}
