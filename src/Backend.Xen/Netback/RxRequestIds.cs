using System.Runtime.CompilerServices;

namespace Backend.Xen.Netback;

/// <summary>
/// The ids of the rx requests a packet's data slots consumed, kept from the single read of each request
/// so that the responses echo them without reading the shared ring again.
/// </summary>
[InlineArray(RxPacket.MaxDataSlots)]
public struct RxRequestIds
{
    private ushort _id;
}
